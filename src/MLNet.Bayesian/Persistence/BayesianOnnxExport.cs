using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MLNet.Bayesian.Persistence;

/// <summary>
/// Exports a trained classifier as one ONNX graph that runs S posterior samples and averages them.
/// <para>Input <c>pixels</c>: float [batch, C, H, W], values in [0, 1] (multiplied in the graph by the
/// input scale, 1/255 for ExtractPixels vectors), normalised in the graph as in training.</para>
/// <para>Outputs: <c>probabilities</c> [batch, K] (posterior mean), <c>predicted_class</c> int64 [batch],
/// <c>predicted_label</c> string [batch], <c>confidence</c>, <c>predictive_entropy</c>, <c>expected_entropy</c>,
/// <c>mutual_information</c>, <c>feature_distance</c> float [batch] (<see cref="Ood.FeatureGaussians"/>: the features are
/// the tapped layer's input in each draw, averaged over a member's draws; 0 without a feature fit), <c>energy</c> float [batch]
/// (-log sum exp of each draw's logits, averaged over the draws).</para>
/// <para>The S draws are <see cref="BayesianNetwork.Draw"/>(seed, s), the draws the in-memory scorer uses, so both
/// give the same scores; a deep ensemble exports member s mod M for sample s, and S is its number of members. With the shared sampling variant the file holds the S value tables
/// [components | outliers | blends] and one compact component index per weight (uint8 up to 256 components,
/// else uint16), cast and gathered in the graph; otherwise it holds the S weight vectors.</para>
/// <para>Metadata: format, library version, labels (JSON), samples, seed, input shape, normalisation, input
/// scale, stage, variant, and <c>content_sha256</c>, a digest of everything else (<see cref="OnnxDigest"/>).</para>
/// </summary>
public static class BayesianOnnxExport
{
    /// <summary>The format this version writes and reads.</summary>
    public const string FormatVersion = "mlnet-bayesian-onnx/3";

    /// <summary>The graph's output of the posterior-mean probabilities ([batch, K]; a [K] vector per row in the row graph).</summary>
    internal const string ProbabilitiesOutput = "probabilities";
    /// <summary>The graph's output of the predicted class index (int64).</summary>
    internal const string PredictedClassOutput = "predicted_class";

    /// <summary>Output names of the bare (batch) graph: the class outputs, then each score's snake-case name (<see cref="UncertaintyScores.Descriptors"/>), then predicted_label.</summary>
    public static IReadOnlyList<string> BatchOutputNames { get; } =
        new[] { ProbabilitiesOutput, PredictedClassOutput }.Concat(UncertaintyScores.Descriptors.Select(d => d.SnakeName)).Append("predicted_label").ToArray();

    static IReadOnlyDictionary<string, string> BatchOutputs { get; } =
        new[] { ProbabilitiesOutput, PredictedClassOutput }.Concat(UncertaintyScores.Descriptors.Select(d => d.SnakeName)).ToDictionary(n => n, n => n);

    /// <summary>Exports with batch-shaped outputs, for any ONNX runtime.</summary>
    public static byte[] Export(BayesianImageClassifier model, int samples, int seed, float inputScale = 1f)
        => Export(model, samples, seed, inputScale, featurizer: null);

    /// <summary>Exports with batch-shaped outputs; with a <paramref name="featurizer"/>, the graph takes its images and runs it first.</summary>
    internal static byte[] Export(BayesianImageClassifier model, int samples, int seed, float inputScale, ImageFeaturizer? featurizer)
        => Build(model, samples, seed, inputScale, "pixels", BatchOutputs, rowMode: false, featurizer: featurizer).ToByteArray();

    /// <summary>Exports to a file.</summary>
    public static void Export(BayesianImageClassifier model, string path, int samples, int seed, float inputScale = 1f)
        => Persistence.AtomicFile.WriteAllBytes(path, Export(model, samples, seed, inputScale));

    /// <summary>
    /// The graph ML.NET's OnnxTransformer runs: one row at a time, input and outputs named by the caller
    /// (<paramref name="outputs"/>: from the graph's output name, <see cref="ProbabilitiesOutput"/>, <see cref="PredictedClassOutput"/>
    /// or a score's snake-case name, to the name to give it), the probabilities a [K] vector and every scalar a one-element
    /// vector (OnnxTransformer reads tensors only). <paramref name="packed"/> emits scores together as one vector, in the order given.
    /// </summary>
    internal static byte[] ExportRows(BayesianImageClassifier model, int samples, int seed, float inputScale, string inputName,
        IReadOnlyDictionary<string, string> outputs, (string Name, IReadOnlyList<UncertaintyScore> Scores)? packed = null,
        ImageFeaturizer? featurizer = null)
        => Build(model, samples, seed, inputScale, inputName, outputs, rowMode: true, packed, featurizer).ToByteArray();

    /// <summary>Reads the metadata of an exported file, checking that this version can read it and that its digest holds.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(byte[] onnx, string source = "the ONNX model")
    {
        var model = OnnxDigest.Parse(onnx, source);
        var metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        if (!metadata.TryGetValue("format", out var format))
            throw new InvalidDataException($"{source} was not written by MLNet.Bayesian (no 'format' metadata).");
        if (format != FormatVersion)
            throw new InvalidDataException($"{source} has format '{format}'; this version of MLNet.Bayesian reads '{FormatVersion}'. " +
                "Save the model again with this version (train it again if only the file is left).");
        OnnxDigest.Verify(model, source);
        return metadata;
    }

    static ModelProto Build(BayesianImageClassifier model, int samples, int seed, float inputScale, string inputName,
        IReadOnlyDictionary<string, string> outputs, bool rowMode, (string Name, IReadOnlyList<UncertaintyScore> Scores)? packed = null,
        ImageFeaturizer? featurizer = null)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), "at least one sample is needed");
        var network = model.Network;
        samples = network.SampleCount(samples);
        var g = new OnnxGraphBuilder();
        int c = model.Channels, h = model.Height, w = model.Width, k = model.ClassNames.Count;
        if (featurizer is not null && featurizer.OutputSize != model.ImageSize)
            throw new ArgumentException($"The backbone gives {featurizer.OutputSize} values per image; the model takes {model.ImageSize}.", nameof(featurizer));
        // With a backbone the graph takes its RGB images; the model's own input (c x h x w) is the backbone's features.
        if (featurizer is null) g.Input(inputName, DataType.Float, rowMode ? 1 : -1, c, h, w);
        else g.Input(inputName, DataType.Float, rowMode ? 1 : -1, 3, featurizer.InputSize, featurizer.InputSize);

        string x = inputName;
        if (inputScale != 1f) x = g.Node("Mul", new[] { x, g.Scalar("input_scale", inputScale) });
        if (featurizer is not null) x = featurizer.ExportOnnx(new OnnxNetworkExporter(g, new Dictionary<nn.Module, string>()), x);
        var mean = Broadcast(model.NormalizeMean, c);
        var std = Broadcast(model.NormalizeStd, c);
        x = g.Node("Sub", new[] { x, g.Initializer("normalize_mean", mean, c, 1, 1) });
        x = g.Node("Div", new[] { x, g.Initializer("normalize_std", std, c, 1, 1) });

        var perSampleWeights = WriteDraws(model, samples, seed, g);
        var probabilities = new List<string>();
        var allLogits = new List<string>();
        var taps = model.FeatureGaussians is null ? null : model.FeatureTaps;
        var memberFeatures = network.Members.Select(_ => new List<string>()).ToArray();
        for (int s = 0; s < samples; s++)
        {
            int member = s % network.Members.Count;
            var exporter = new OnnxNetworkExporter(g, perSampleWeights[s]) { Tap = taps?.Layers[member] };
            string logits = exporter.Export(network.MemberFor(s), x);
            string p = g.Node("Softmax", new[] { logits }, ("axis", 1L));
            probabilities.Add(g.Node("Unsqueeze", new[] { p, g.Int64s("axes", 0) }));
            allLogits.Add(g.Node("Unsqueeze", new[] { logits, g.Int64s("axes", 0) }));
            if (taps is not null)
                memberFeatures[member].Add(Features(g, exporter.TappedInput ?? throw new InvalidOperationException("The feature layer is not part of the exported graph."),
                    taps.PooledDimensions(member)));
        }
        string all = Stack(g, probabilities);                                                                        // [S, N, K]
        string meanP = g.Node("ReduceMean", new[] { all }, ("axes", new long[] { 0 }), ("keepdims", 0L));               // [N, K]
        string predicted = g.Node("ArgMax", new[] { meanP }, ("axis", 1L), ("keepdims", 0L));                            // [N]
        string distance = taps is null
            ? g.Node("Cast", new[] { g.Node("Sub", new[] { predicted, predicted }) }, ("to", (long)DataType.Float))   // [N] zeros: no feature fit
            : FeatureDistance(g, memberFeatures, model.FeatureGaussians!);
        var inputs = new ScoreGraphInputs(g, all, meanP, Stack(g, allLogits), distance);
        var values = new Dictionary<string, string> { [ProbabilitiesOutput] = meanP, [PredictedClassOutput] = predicted };
        var scores = new Dictionary<UncertaintyScore, string>();
        foreach (var d in UncertaintyScores.Descriptors.Where(d => outputs.ContainsKey(d.SnakeName) || packed?.Scores.Contains(d.Score) == true))
            values[d.SnakeName] = scores[d.Score] = inputs.Of(d.Score);

        foreach (var (source, name) in outputs)
        {
            string value = values.TryGetValue(source, out var v) ? v : throw new ArgumentException($"The graph has no output '{source}'.", nameof(outputs));
            var type = source == PredictedClassOutput ? DataType.Int64 : DataType.Float;
            if (!rowMode) g.Output(value, name, type, source == ProbabilitiesOutput ? new long[] { -1, k } : new long[] { -1 });
            else if (source == ProbabilitiesOutput) g.Output(g.Node("Squeeze", new[] { value, g.Int64s("axes", 0) }), name, type, k);
            else g.Output(value, name, type, 1);
        }
        if (packed is { } pack)
            g.Output(g.Node("Concat", pack.Scores.Select(score => scores[score]).ToArray(), ("axis", 0L)), pack.Name, DataType.Float, pack.Scores.Count);
        if (!rowMode)
            g.Output(g.Node("Gather", new[] { g.StringInitializer("class_names", model.ClassNames), predicted }, ("axis", 0L)),
                "predicted_label", DataType.String, -1);

        var inv = CultureInfo.InvariantCulture;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = FormatVersion,
            ["library_version"] = typeof(BayesianOnnxExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            ["labels"] = JsonSerializer.Serialize(model.ClassNames),
            ["samples"] = samples.ToString(inv),
            ["seed"] = seed.ToString(inv),
            ["input_shape"] = featurizer is null ? $"[{c},{h},{w}]" : $"[3,{featurizer.InputSize},{featurizer.InputSize}]",
            ["backbone"] = featurizer?.Identity ?? "",
            ["normalize_mean"] = JsonSerializer.Serialize(mean),
            ["normalize_std"] = JsonSerializer.Serialize(std),
            ["input_scale"] = inputScale.ToString("R", inv),
            ["stage"] = network.Stage.ToString(),
            ["variant"] = network.SharedPosterior?.Variant.ToString() ?? "",
        };
        return OnnxDigest.Seal(g.Build(metadata, FormatVersion));
    }

    /// <summary>The S per-draw values ([1, ...] each) as one [S, ...] value.</summary>
    static string Stack(OnnxGraphBuilder g, IReadOnlyList<string> draws)
        => draws.Count == 1 ? draws[0] : g.Node("Concat", draws.ToArray(), ("axis", 0L));

    /// <summary>The N x D features of a feature layer's input, as <see cref="FeatureTaps.Features"/> reads them.</summary>
    static string Features(OnnxGraphBuilder g, string input, IReadOnlyList<long> pooled)
        => pooled.Count == 0 ? input : g.Node("ReduceMean", new[] { input }, ("axes", pooled.ToArray()), ("keepdims", 0L));

    /// <summary>The element-wise mean of same-shaped values (the value itself when there is one).</summary>
    static string Mean(OnnxGraphBuilder g, IReadOnlyList<string> values)
        => values.Count == 1 ? values[0] : g.Node("Div", new[] { g.Node("Sum", values.ToArray()), g.Scalar("count", values.Count) });

    /// <summary>
    /// The feature distance (<see cref="Ood.FeatureGaussians.Distances"/>): per member, its draws' features averaged, the
    /// squared Mahalanobis distance to every class by expansion, clamped at 0, the minimum over classes and its square root;
    /// then the mean over members. Returns [N].
    /// </summary>
    static string FeatureDistance(OnnxGraphBuilder g, IReadOnlyList<List<string>> memberFeatures, IReadOnlyList<Ood.FeatureGaussians> fits)
    {
        var distances = new List<string>();
        for (int m = 0; m < fits.Count; m++)
        {
            var fit = fits[m];
            string f = Mean(g, memberFeatures[m]);                                                                                      // [N, D]
            int d = fit.Dimension, k = fit.FittedClasses.Length;
            // Gemm with transB multiplies by the stored (row-major) matrices' transposes, as the in-memory scorer does.
            string zero = g.Scalar("zero", 0f);
            string z = g.Node("Gemm", new[] { f, g.Initializer("whitening", fit.Whitening, d, d), zero }, ("transB", 1L));               // [N, D]
            string cross = g.Node("Gemm", new[] { z, g.Initializer("whitened_means", fit.WhitenedMeans, k, d), zero }, ("transB", 1L));  // [N, K]
            string norm = g.Node("ReduceSumSquare", new[] { z }, ("axes", new long[] { 1 }), ("keepdims", 1L));                      // [N, 1]
            string squared = g.Node("Add", new[] { g.Node("Sub", new[] { norm, g.Node("Mul", new[] { cross, g.Scalar("two", 2f) }) }),
                g.Initializer("whitened_mean_norms", fit.WhitenedMeanNorms, k) });
            string nearest = g.Node("ReduceMin", new[] { g.Node("Max", new[] { squared, zero }) }, ("axes", new long[] { 1 }), ("keepdims", 0L));
            distances.Add(g.Node("Sqrt", new[] { nearest }));
        }
        return Mean(g, distances);
    }

    /// <summary>
    /// The S draws (seed, s), written by the network's posterior in the form that suits it; per sample, the ONNX value
    /// name of every Bayesian layer's weight.
    /// </summary>
    static List<Dictionary<nn.Module, string>> WriteDraws(BayesianImageClassifier model, int samples, int seed, OnnxGraphBuilder g)
    {
        var layers = model.Network.Layers.Select(l => (nn.Module)l.Layer).ToList();
        return model.Network.ExportDraws(g, seed, samples)
            .Select(draw => draw.Length == layers.Count ? layers.Zip(draw).ToDictionary(p => p.First, p => p.Second)
                : throw new InvalidOperationException($"The posterior wrote {draw.Length} weights for {layers.Count} Bayesian layers."))
            .ToList();
    }

    static float[] Broadcast(float[] values, int channels)
        => values.Length == channels ? values : values.Length == 1 ? Enumerable.Repeat(values[0], channels).ToArray()
            : throw new ArgumentException($"Normalisation has {values.Length} values for {channels} channels.");
}
