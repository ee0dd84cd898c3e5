using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// A fitted 2DGBNN image classifier as an ML.NET transformer. Adds PredictedLabel (key with the training
/// label's key values), Score (posterior-mean probabilities with slot names), Confidence, PredictiveEntropy,
/// ExpectedEntropy and MutualInformation. Rows are scored in batches with S posterior draws; draw s is the
/// same weight sample for every batch and call (seeded), so Transform and PredictionEngine agree.
/// Dispose it to release the network's native memory.
/// </summary>
public sealed class BayesianImageClassificationTransformer : ITransformer, IDisposable
{
    /// <summary>How the image column becomes the network's input.</summary>
    public sealed record InputSpec(string ImageColumnName, int Channels, int Height, int Width, float VectorPixelScale)
    {
        internal ImageColumnReader.Kind Kind { get; init; }
    }

    readonly string[] _outputNames;

    internal BayesianImageClassificationTransformer(BayesianImageClassifier model, InputSpec input,
        IReadOnlyList<string> classNames, string predictedLabelColumn, string scoreColumn, int samples, int seed, int batchSize)
    {
        Model = model; Input = input; ClassNames = classNames; PredictedLabelColumnName = predictedLabelColumn;
        ScoreColumnName = scoreColumn; Samples = samples; Seed = seed; BatchSize = batchSize;
        _outputNames = new[] { predictedLabelColumn, scoreColumn, BayesianColumnNames.Confidence, BayesianColumnNames.PredictiveEntropy,
            BayesianColumnNames.ExpectedEntropy, BayesianColumnNames.MutualInformation };
    }

    /// <summary>The trained network and its training report.</summary>
    public BayesianImageClassifier Model { get; }
    /// <summary>The image column and the shape the network sees.</summary>
    public InputSpec Input { get; }
    /// <summary>Class names: the label's key values, in key order.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Name of the predicted-label column.</summary>
    public string PredictedLabelColumnName { get; }
    /// <summary>Name of the probability column.</summary>
    public string ScoreColumnName { get; }
    /// <summary>Posterior draws per prediction.</summary>
    public int Samples { get; }
    /// <summary>Seed of the prediction draws.</summary>
    public int Seed { get; }
    /// <summary>Rows scored together.</summary>
    public int BatchSize { get; }
    /// <summary>Statistics of training.</summary>
    public TrainingReport Report => Model.Report;

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var (name, type, annotations) in OutputColumns()) builder.AddColumn(name, type, annotations);
        return builder.ToSchema();
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new ScoredDataView(this, input, GetOutputSchema(input.Schema));
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new ScoringRowMapper(this, inputSchema, GetOutputSchema(inputSchema));

    /// <summary>
    /// Saves the transformer as public ML.NET parts, so that <c>mlContext.Model.Load</c> needs no private code:
    /// the image preprocessing (ResizeImages with Fill, ConvertToGrayscale for gray models, ExtractPixels scaled
    /// to [0, 1]; or the pixel vector as it is), an OnnxTransformer holding the exported graph of S posterior
    /// draws (the ONNX bytes live inside the zip), a CustomMapping (<see cref="OnnxOutputSqueeze"/>) that makes
    /// scalars of its one-element outputs, a MapValue that turns the predicted class index into the
    /// PredictedLabel key with the training label's key values, and a DropColumns of the intermediate columns.
    /// Raw-byte image columns cannot be saved: no public ML.NET transform decodes bytes to an image.
    /// Load with <see cref="BayesianModel.Load"/>, or call <see cref="BayesianModel.Register"/> before mlContext.Model.Load.
    /// </summary>
    public void Save(ModelSaveContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        string file = Path.Combine(Path.GetTempPath(), $"mlnet-bayesian-{Guid.NewGuid():N}.onnx");
        try
        {
            // OnnxTransformer reads the file again when it saves itself; only then can it go.
            ((ICanSaveModel)SaveableChain(file)).Save(ctx);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The chain of public ML.NET transformers that <see cref="Save"/> writes, its ONNX graph written to <paramref name="file"/>.</summary>
    ITransformer SaveableChain(string file)
    {
        var ml = new MLContext(Seed);
        const string Resized = "__mlnb_resized", Gray = "__mlnb_gray";
        // A pixel vector goes into the graph under its own name, so that ONNX Runtime's shape errors name it.
        string Pixels = Input.Kind == ImageColumnReader.Kind.Vector ? Input.ImageColumnName : BayesianOnnxExport.MLNetInputName;
        var temporaries = new List<string> { OnnxOutputSqueeze.Names.Confidence, OnnxOutputSqueeze.Names.PredictiveEntropy,
            OnnxOutputSqueeze.Names.ExpectedEntropy, OnnxOutputSqueeze.Names.MutualInformation, OnnxOutputSqueeze.Names.PredictedClass,
            OnnxOutputSqueeze.Names.PredictedClassScalar };
        IEstimator<ITransformer> preprocessing;
        IDataView empty;
        switch (Input.Kind)
        {
            case ImageColumnReader.Kind.Image:
                IEstimator<ITransformer> images = ml.Transforms.ResizeImages(Resized, Input.Width, Input.Height, Input.ImageColumnName,
                    Microsoft.ML.Transforms.Image.ImageResizingEstimator.ResizingKind.Fill);
                string source = Resized;
                if (Input.Channels == 1)
                {
                    images = images.Append(ml.Transforms.ConvertToGrayscale(Gray, Resized));
                    source = Gray;
                    temporaries.Add(Gray);
                }
                temporaries.Add(Resized);
                temporaries.Add(Pixels);
                preprocessing = images.Append(ml.Transforms.ExtractPixels(Pixels, source,
                    Input.Channels == 1 ? Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Red : Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorBits.Rgb,
                    Microsoft.ML.Transforms.Image.ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, scaleImage: 1f / 255f));
                empty = EmptyView<ImageRow>(ml, Input.ImageColumnName, new Microsoft.ML.Transforms.Image.ImageDataViewType());
                break;
            case ImageColumnReader.Kind.Vector:
                preprocessing = new EstimatorChain<ITransformer>();
                empty = EmptyView<VectorRow>(ml, Input.ImageColumnName, new VectorDataViewType(NumberDataViewType.Single, Input.Channels * Input.Height * Input.Width));
                break;
            default:
                throw new NotSupportedException($"A model trained on raw image bytes (column '{Input.ImageColumnName}') cannot be saved: no public ML.NET " +
                    "transform decodes bytes into an image. Load images with mlContext.Transforms.LoadImages instead, or export the bare ONNX graph with BayesianOnnxExport.");
        }

        float inputScale = Input.Kind == ImageColumnReader.Kind.Vector ? Input.VectorPixelScale : 1f;
        byte[] onnx = BayesianOnnxExport.ExportForMLNet(Model, Samples, Seed, inputScale, ScoreColumnName, Pixels);
        File.WriteAllBytes(file, onnx);
        var outputs = new[] { ScoreColumnName, OnnxOutputSqueeze.Names.Confidence, OnnxOutputSqueeze.Names.PredictiveEntropy,
            OnnxOutputSqueeze.Names.ExpectedEntropy, OnnxOutputSqueeze.Names.MutualInformation, OnnxOutputSqueeze.Names.PredictedClass };
        var estimator = preprocessing
            .Append(ml.Transforms.ApplyOnnxModel(outputColumnNames: outputs, inputColumnNames: new[] { Pixels }, modelFile: file,
                shapeDictionary: new Dictionary<string, int[]> { [Pixels] = new[] { 1, Input.Channels, Input.Height, Input.Width } },
                gpuDeviceId: null, fallbackToCpu: false))
            .Append(ml.Transforms.CustomMapping(new OnnxOutputSqueeze().GetMapping(), OnnxOutputSqueeze.ContractName))
            .Append(ml.Transforms.Conversion.MapValue(PredictedLabelColumnName,
                ClassNames.Select((name, i) => new KeyValuePair<long, string>(i, name)), OnnxOutputSqueeze.Names.PredictedClassScalar, treatValuesAsKeyType: true))
            .Append(ml.Transforms.DropColumns(temporaries.ToArray()));
        return estimator.Fit(empty);
    }

    sealed class ImageRow { [Microsoft.ML.Transforms.Image.ImageType(1, 1)] public MLImage? Image { get; set; } }
    sealed class VectorRow { public float[] Pixels { get; set; } = Array.Empty<float>(); }

    static IDataView EmptyView<TRow>(MLContext ml, string column, DataViewType type) where TRow : class
    {
        var schema = SchemaDefinition.Create(typeof(TRow));
        schema[0].ColumnName = column;
        schema[0].ColumnType = type;
        return ml.Data.LoadFromEnumerable(Array.Empty<TRow>(), schema);
    }

    /// <summary>
    /// Writes the bare ONNX graph (batch inputs and outputs, see <see cref="BayesianOnnxExport"/>) with this
    /// transformer's S and seed, so that it scores like <see cref="Transform"/>. Its input is the pixel tensor
    /// after resizing (and, for a pixel-vector input, before VectorPixelScale, which the graph applies).
    /// </summary>
    public void ExportOnnx(string path)
        => BayesianOnnxExport.Export(Model, path, Samples, Seed, Input.Kind == ImageColumnReader.Kind.Vector ? Input.VectorPixelScale : 1f);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();

    internal IReadOnlyList<string> OutputNames => _outputNames;

    internal void CheckInput(DataViewSchema schema)
    {
        var column = schema.GetColumnOrNull(Input.ImageColumnName)
            ?? throw new ArgumentException($"Image column '{Input.ImageColumnName}' was not found in the input. Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
        _ = new ImageColumnReader(column, Input.Channels, Input.Height, Input.Width, Input.VectorPixelScale);
    }

    internal ImageColumnReader Reader(DataViewSchema schema)
        => new(schema[Input.ImageColumnName], Input.Channels, Input.Height, Input.Width, Input.VectorPixelScale);

    /// <summary>Scores a batch of images (N x C x H x W values in [0, 1]).</summary>
    internal PredictiveDistribution Score(ReadOnlySpan<float> pixels)
    {
        return Model.Predict(pixels, Samples, BatchSize, Seed);
    }

    IEnumerable<(string Name, DataViewType Type, DataViewSchema.Annotations Annotations)> OutputColumns()
    {
        int k = ClassNames.Count;
        var names = new VBuffer<ReadOnlyMemory<char>>(k, ClassNames.Select(n => n.AsMemory()).ToArray());
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getNames = (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v);

        var keyAnnotations = new DataViewSchema.Annotations.Builder();
        keyAnnotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, k), getNames);
        yield return (PredictedLabelColumnName, new KeyDataViewType(typeof(uint), k), keyAnnotations.ToAnnotations());

        var scoreAnnotations = new DataViewSchema.Annotations.Builder();
        scoreAnnotations.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, k), getNames);
        ValueGetter<ReadOnlyMemory<char>> kind = (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory();
        ValueGetter<ReadOnlyMemory<char>> valueKind = (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory();
        scoreAnnotations.Add("ScoreColumnKind", TextDataViewType.Instance, kind);
        scoreAnnotations.Add("ScoreValueKind", TextDataViewType.Instance, valueKind);
        yield return (ScoreColumnName, new VectorDataViewType(NumberDataViewType.Single, k), scoreAnnotations.ToAnnotations());

        foreach (string name in _outputNames.Skip(2))
            yield return (name, NumberDataViewType.Single, DataViewSchema.Annotations.Empty);
    }
}
