using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// A fitted 2DGBNN image classifier as an ML.NET transformer. Adds the columns of <see cref="OutputColumns"/>:
/// PredictedLabel (key with the training label's key values), Score (posterior-mean probabilities with slot
/// names), Confidence, PredictiveEntropy, ExpectedEntropy and MutualInformation. Rows are scored in batches with
/// the S seeded posterior draws (seed, s), the same for every batch, call and thread, so Transform,
/// PredictionEngine and the saved model agree. With a conformal calibration (ConformalCatalog.FitConformal)
/// it adds PredictionSet (a vector of K booleans of unknown size, class c in key order) and PredictionSetSize (float).
/// Safe to use from several threads at once.
/// Dispose it to release the network's native memory.
/// </summary>
public sealed class BayesianImageClassificationTransformer : ITransformer, IDisposable
{
    // Drawn on first use: a transformer that is only saved (the ONNX export draws for itself) never holds them.
    readonly Lazy<SeededDraws> _draws;
    readonly ITransformer? _preprocessing;

    internal BayesianImageClassificationTransformer(BayesianImageClassifier model, ImageInputSpec input, ITransformer? preprocessing,
        IReadOnlyList<string> classNames, string predictedLabelColumn, string scoreColumn, int samples, int seed, int batchSize, long maxImagePixels,
        ConformalCalibration? conformal = null, ImageFeaturizer? featurizer = null)
    {
        Conformal = conformal;
        Featurizer = featurizer;
        Model = model; Input = input; _preprocessing = preprocessing; ClassNames = classNames; PredictedLabelColumnName = predictedLabelColumn;
        ScoreColumnName = scoreColumn; Samples = samples; Seed = seed; BatchSize = batchSize; MaxImagePixels = maxImagePixels;
        Columns = OutputColumns.All(predictedLabelColumn, scoreColumn);
        _draws = new Lazy<SeededDraws>(() => new SeededDraws(model.Network, seed, samples), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The trained network and its training report.</summary>
    public BayesianImageClassifier Model { get; }
    /// <summary>The image column and the shape the network sees.</summary>
    internal ImageInputSpec Input { get; }
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
    /// <summary>Largest decoded image accepted when scoring.</summary>
    public long MaxImagePixels { get; }
    /// <summary>Statistics of training.</summary>
    public TrainingReport Report => Model.Report;
    /// <summary>The output columns, in order (PredictionSet and PredictionSetSize follow them when <see cref="Conformal"/> is set).</summary>
    public IReadOnlyList<OutputColumn> Columns { get; }
    /// <summary>The split-conformal calibration of the prediction sets, or null (no set columns).</summary>
    public ConformalCalibration? Conformal { get; }
    /// <summary>The pretrained backbone whose features <see cref="Model"/> classifies, or null (it classifies the pixels).</summary>
    internal ImageFeaturizer? Featurizer { get; }
    /// <summary>The backbone under the Bayesian head (<see cref="Backbone.None"/>: the network sees the pixels).</summary>
    public Backbone Backbone => Featurizer?.Backbone ?? Backbone.None;

    /// <summary>
    /// This transformer with <paramref name="conformal"/> attached (fitted on its scores of held-out rows, e.g. with
    /// <see cref="ConformalCalibration.Fit(IReadOnlyList{float}, int, IReadOnlyList{int}, ConformalCalibration.Options)"/>). The two share the network: dispose only one
    /// (disposing a transformer releases the network of both).
    /// </summary>
    public BayesianImageClassificationTransformer WithConformal(ConformalCalibration conformal)
    {
        ArgumentNullException.ThrowIfNull(conformal);
        if (conformal.Classes != ClassNames.Count)
            throw new ArgumentException($"The conformal calibration is for {conformal.Classes} classes; this model has {ClassNames.Count}.", nameof(conformal));
        return new(Model, Input, _preprocessing, ClassNames, PredictedLabelColumnName, ScoreColumnName, Samples, Seed, BatchSize, MaxImagePixels, conformal, Featurizer);
    }

    /// <summary>The getter of output column <paramref name="outputIndex"/> (0 = the first output column) for row i of a scored batch.</summary>
    internal Delegate Getter(int outputIndex, Func<(PredictiveDistribution Batch, int Row)> current)
    {
        if (outputIndex < Columns.Count) return ScoredValues.Getter(Columns[outputIndex], current);
        var conformal = Conformal!;
        if (outputIndex == Columns.Count)
            return (ValueGetter<VBuffer<bool>>)((ref VBuffer<bool> v) =>
            {
                var (b, i) = current();
                var editor = VBufferEditor.Create(ref v, conformal.Classes);
                conformal.PredictionSet(b.Row(i), editor.Values);
                v = editor.Commit();
            });
        return (ValueGetter<float>)((ref float v) =>
        {
            var (b, i) = current();
            Span<bool> inSet = stackalloc bool[conformal.Classes];
            v = conformal.PredictionSet(b.Row(i), inSet);
        });
    }

    /// <inheritdoc />
    public bool IsRowToRowMapper => true;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(inputSchema);
        foreach (var (name, type, annotations) in OutputSchemaColumns()) builder.AddColumn(name, type, annotations);
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

    /// <summary>Saves the transformer as public ML.NET parts (the layout is described in <see cref="SavedModelLayout"/>).</summary>
    public void Save(ModelSaveContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        SavedModelLayout.Save(ctx, new SavedModelContents(Model, Input, ClassNames, PredictedLabelColumnName, ScoreColumnName, Samples, Seed, Conformal, Featurizer));
    }

    /// <summary>
    /// Writes the bare ONNX graph (batch inputs and outputs, see <see cref="BayesianOnnxExport"/>) with this
    /// transformer's S and seed, so that it scores like <see cref="Transform"/>. Its input is the pixel tensor
    /// after resizing (and, for a pixel-vector input, before VectorPixelScale, which the graph applies).
    /// </summary>
    public void ExportOnnx(string path)
        => AtomicFile.WriteAllBytes(path, BayesianOnnxExport.Export(Model, Samples, Seed, Input.Kind == ImageColumnKind.Vector ? Input.VectorPixelScale : 1f, Featurizer));

    /// <inheritdoc />
    public void Dispose()
    {
        // A transformer made by WithConformal shares the network; a second Dispose of it is harmless.
        if (_draws.IsValueCreated) _draws.Value.Dispose();
        (_preprocessing as IDisposable)?.Dispose();
        Featurizer?.Dispose();
        Model.Dispose();
    }

    internal void CheckInput(DataViewSchema schema) => _ = Reader(schema);

    internal ImageColumnReader Reader(DataViewSchema schema)
    {
        var column = schema.GetColumnOrNull(Input.ColumnName)
            ?? throw new ArgumentException($"Image column '{Input.ColumnName}' was not found in the input. Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
        return new ImageColumnReader(column, Input, _preprocessing, MaxImagePixels);
    }

    /// <summary>
    /// Scores a batch of images (N x C x H x W values in [0, 1]); <paramref name="firstRow"/> is the position of the
    /// first one, for errors. A row whose scores are not finite numbers is an error, never a decision.
    /// </summary>
    internal PredictiveDistribution Score(ReadOnlySpan<float> pixels, long firstRow)
    {
        var scores = Featurizer is null
            ? Model.Predict(pixels, _draws.Value, BatchSize)
            : Model.Predict(Featurizer.Featurize(pixels, pixels.Length / Input.Size), _draws.Value, BatchSize);
        for (int i = 0; i < scores.Count; i++)
            if (!scores.IsFinite(i))
                throw new InvalidDataException($"Row {firstRow + i}: the model produced scores that are not finite numbers for the image in column '{Input.ColumnName}'. " +
                    "Its weights are damaged (NaN or infinite); train it again or load an undamaged copy.");
        return scores;
    }

    IEnumerable<(string Name, DataViewType Type, DataViewSchema.Annotations Annotations)> OutputSchemaColumns()
    {
        int k = ClassNames.Count;
        var names = new VBuffer<ReadOnlyMemory<char>>(k, ClassNames.Select(n => n.AsMemory()).ToArray());
        ValueGetter<VBuffer<ReadOnlyMemory<char>>> getNames = (ref VBuffer<ReadOnlyMemory<char>> v) => names.CopyTo(ref v);
        foreach (var column in Columns)
        {
            var annotations = new DataViewSchema.Annotations.Builder();
            switch (column.Kind)
            {
                case OutputColumnKind.PredictedLabel:
                    annotations.Add("KeyValues", new VectorDataViewType(TextDataViewType.Instance, k), getNames);
                    yield return (column.Name, new KeyDataViewType(typeof(uint), k), annotations.ToAnnotations());
                    break;
                case OutputColumnKind.Score:
                    annotations.Add("SlotNames", new VectorDataViewType(TextDataViewType.Instance, k), getNames);
                    ValueGetter<ReadOnlyMemory<char>> kind = (ref ReadOnlyMemory<char> v) => v = "MulticlassClassification".AsMemory();
                    ValueGetter<ReadOnlyMemory<char>> valueKind = (ref ReadOnlyMemory<char> v) => v = "Score".AsMemory();
                    annotations.Add("ScoreColumnKind", TextDataViewType.Instance, kind);
                    annotations.Add("ScoreValueKind", TextDataViewType.Instance, valueKind);
                    yield return (column.Name, new VectorDataViewType(NumberDataViewType.Single, k), annotations.ToAnnotations());
                    break;
                default:
                    yield return (column.Name, NumberDataViewType.Single, DataViewSchema.Annotations.Empty);
                    break;
            }
        }
        if (Conformal is null) yield break;
        // Of unknown size, as the saved model's CustomMapping (which cannot declare K) gives it, so both schemas are equal.
        yield return (BayesianColumnNames.PredictionSet, new VectorDataViewType(BooleanDataViewType.Instance), DataViewSchema.Annotations.Empty);
        yield return (BayesianColumnNames.PredictionSetSize, NumberDataViewType.Single, DataViewSchema.Annotations.Empty);
    }
}
