using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>
/// Scores images sent to the server as bytes, without writing them anywhere: the saved chain runs from the column its
/// image loader fills (the loader reads files; here the decoded image goes straight into that column). The bytes are
/// checked (<see cref="ImageFileCheck.Check"/>: format, size limit, truncation) before anything decodes them.
/// Engines come from a <see cref="PredictionEnginePool{TIn, TOut}"/>; a model with prediction sets returns them too.
/// </summary>
internal sealed class ImageScorer : IDisposable
{
    /// <summary>The input row: the decoded image under the loader's output column, and an empty label for the chain's key mapping.</summary>
    public sealed class ImageRow
    {
        // ML.NET maps MLImage only through this attribute. The size it names is only the column's type: the model's own
        // preprocessing resizes whatever image it is given, as it does the loader's (whose type names no size).
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
        public string Label { get; set; } = "";
    }

    readonly PredictionEnginePool<ImageRow, BayesianSetPrediction>? _withSets;
    readonly PredictionEnginePool<ImageRow, BayesianPrediction>? _plain;
    readonly IReadOnlyList<string> _classes;
    readonly ReviewRule? _rule;
    readonly long _maxPixels;

    public ImageScorer(MLContext ml, ITransformer model, DataViewSchema inputSchema, IReadOnlyList<string> classes, ReviewRule? rule, long maxPixels, int engines)
    {
        _classes = classes; _rule = rule; _maxPixels = maxPixels;
        var parts = Flatten(model).ToList();
        var loader = parts.OfType<ImageLoadingTransformer>().FirstOrDefault()
            ?? throw new InvalidOperationException("The model does not load images from a path column (LoadImages): the server cannot give it an image it was sent.");
        // The loader names no column publicly: its image column is the image-typed one it adds to the schema it is given.
        var before = parts.TakeWhile(p => !ReferenceEquals(p, loader)).Aggregate(inputSchema, (schema, p) => p.GetOutputSchema(schema));
        string imageColumn = loader.GetOutputSchema(before).Last(c => c.Type is ImageDataViewType && !c.IsHidden).Name;
        var fromImage = new TransformerChain<ITransformer>(parts.Where(p => !ReferenceEquals(p, loader)).ToArray());
        var definition = SchemaDefinition.Create(typeof(ImageRow));
        definition[nameof(ImageRow.Image)].ColumnName = imageColumn;
        bool sets = model.GetOutputSchema(inputSchema).GetColumnOrNull(BayesianColumnNames.PredictionSet) is not null;
        // Every engine runs the one loaded model. ML.NET's engines own their transformer by default, and the pool disposes
        // the extra engines a burst of requests made: that disposed the shared model (its ONNX session) with them, and
        // every later request failed.
        var options = new PredictionEngineOptions { InputSchemaDefinition = definition, OwnsTransformer = false };
        if (sets) _withSets = new(() => ml.Model.CreatePredictionEngine<ImageRow, BayesianSetPrediction>(fromImage, options), engines);
        else _plain = new(() => ml.Model.CreatePredictionEngine<ImageRow, BayesianPrediction>(fromImage, options), engines);
    }

    /// <summary>
    /// The row of one encoded image, with the names of the CSV's columns; <see cref="InvalidDataException"/> when the
    /// bytes are not an image this library reads, naming <paramref name="source"/>.
    /// </summary>
    public Dictionary<string, object?> Score(byte[] encoded, string source)
    {
        ImageFileCheck.Check(encoded, source, _maxPixels);
        using var image = Decode(encoded, source);
        var row = new ImageRow { Image = image };
        BayesianPrediction p = _withSets is not null ? _withSets.Predict(row) : _plain!.Predict(row);
        var result = new Dictionary<string, object?> { ["predicted_label"] = _classes[(int)p.PredictedLabel - 1] };
        foreach (var column in OutputColumns.Uncertainty) result[column.CsvName] = Finite(p.Value(column.Uncertainty!.Value));
        if (_rule is not null)
        {
            result["needs_review"] = _rule.NeedsReview(p);
            result["why"] = FlagReason.Of(_rule, p.Value).Select(r => new Dictionary<string, object?>
            {
                ["score"] = r.Score.ToString(), ["value"] = Finite(r.Value), ["threshold"] = r.Threshold, ["past_threshold"] = r.Past,
            }).ToList();
        }
        result["probabilities"] = _classes.Select((c, k) => (c, k)).ToDictionary(x => x.c, x => (object?)p.Score[x.k]);
        if (p is BayesianSetPrediction s)
            result["prediction_set"] = Enumerable.Range(0, _classes.Count).Where(k => s.PredictionSet[k]).OrderByDescending(k => p.Score[k]).Select(k => _classes[k]).ToList();
        return result;
    }

    static MLImage Decode(byte[] encoded, string source)
    {
        try
        {
            using var stream = new MemoryStream(encoded, writable: false);
            return MLImage.CreateFromStream(stream);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            throw new InvalidDataException($"{source}: the image cannot be decoded ({e.Message}).", e);
        }
    }

    // JSON has no NaN or infinity: a score that is not a finite number is sent as null (the rule counts it as uncertain).
    static object? Finite(float v) => float.IsFinite(v) ? v : null;

    static IEnumerable<ITransformer> Flatten(ITransformer model)
        => model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : new[] { model };

    public void Dispose()
    {
        _withSets?.Dispose();
        _plain?.Dispose();
    }
}
