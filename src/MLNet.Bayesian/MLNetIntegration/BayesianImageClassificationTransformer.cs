using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
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
    public sealed record InputSpec(string ImageColumnName, int Channels, int Height, int Width, float VectorPixelScale);

    readonly IHostEnvironment _env;
    readonly string[] _outputNames;

    internal BayesianImageClassificationTransformer(IHostEnvironment env, BayesianImageClassifier model, InputSpec input,
        IReadOnlyList<string> classNames, string predictedLabelColumn, string scoreColumn, int samples, int seed, int batchSize)
    {
        _env = env;
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
    /// Saving needs the ONNX route (the shared posterior exported as an ONNX graph behind an OnnxTransformer),
    /// which this version does not have yet. Throws with that explanation rather than writing a model that cannot load.
    /// </summary>
    public void Save(ModelSaveContext ctx)
        => throw new NotSupportedException("BayesianImageClassificationTransformer cannot be saved with mlContext.Model.Save in this version: " +
            "ML.NET lets outside libraries persist only through public transformers, and the ONNX export of the shared posterior is not built yet. " +
            "Keep the fitted transformer in memory, or retrain from the same seed.");

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
        _env.Register("BayesianImageClassification"); // keeps the environment alive and checks it was not disposed
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
