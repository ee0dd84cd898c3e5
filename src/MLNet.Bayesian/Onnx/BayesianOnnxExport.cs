using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using MLNet.Bayesian.Layers;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MLNet.Bayesian.Onnx;

/// <summary>
/// Exports a trained classifier as one ONNX graph that runs S posterior samples and averages them.
/// <para>Input <c>pixels</c>: float [batch, C, H, W], values in [0, 1] (multiplied in the graph by the
/// input scale, 1/255 for ExtractPixels vectors), normalised in the graph as in training.</para>
/// <para>Outputs: <c>probabilities</c> [batch, K] (posterior mean), <c>predicted_class</c> int64 [batch],
/// <c>predicted_label</c> string [batch], <c>confidence</c>, <c>predictive_entropy</c>, <c>expected_entropy</c>,
/// <c>mutual_information</c> float [batch].</para>
/// <para>With the shared sampling variant, the file holds S value tables [components | outliers | blends] and
/// one compact component index per weight (uint8 up to 256 components, else uint16), cast and gathered in
/// the graph; otherwise it holds the S sampled weight vectors. Draw s equals the in-memory scorer's draw s
/// for the same seed, so both give the same scores.</para>
/// <para>Metadata: format, library version, labels (JSON), samples, seed, input shape, normalisation, input scale.</para>
/// </summary>
public static class BayesianOnnxExport
{
    /// <summary>The format this version writes and reads.</summary>
    public const string FormatVersion = "mlnet-bayesian-onnx/1";

    /// <summary>Exports with batch-shaped outputs, for any ONNX runtime.</summary>
    public static byte[] Export(BayesianImageClassifier model, int samples, int seed, float inputScale = 1f)
        => Build(model, samples, seed, inputScale, rowMode: false).ToByteArray();

    /// <summary>Exports to a file.</summary>
    public static void Export(BayesianImageClassifier model, string path, int samples, int seed, float inputScale = 1f)
        => File.WriteAllBytes(path, Export(model, samples, seed, inputScale));

    /// <summary>
    /// The graph ML.NET's OnnxTransformer runs: one row at a time, outputs named after the ML.NET columns
    /// and squeezed to the row's shape (scores [K], scalars []), and the predicted label as text.
    /// </summary>
    internal static byte[] ExportForMLNet(BayesianImageClassifier model, int samples, int seed, float inputScale, string scoreColumnName, string inputName)
        => Build(model, samples, seed, inputScale, rowMode: true, scoreColumnName, inputName).ToByteArray();

    /// <summary>Reads the metadata of an exported file, checking that this version can read it.</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(byte[] onnx, string source = "the ONNX model")
    {
        ModelProto model;
        try { model = ModelProto.Parser.ParseFrom(onnx); }
        catch (InvalidProtocolBufferException e) { throw new InvalidDataException($"{source} is not a readable ONNX file: {e.Message}", e); }
        var metadata = model.MetadataProps.ToDictionary(p => p.Key, p => p.Value);
        if (!metadata.TryGetValue("format", out var format))
            throw new InvalidDataException($"{source} was not written by MLNet.Bayesian (no 'format' metadata).");
        if (format != FormatVersion)
            throw new InvalidDataException($"{source} has format '{format}'; this version of MLNet.Bayesian reads '{FormatVersion}'.");
        return metadata;
    }

    static ModelProto Build(BayesianImageClassifier model, int samples, int seed, float inputScale, bool rowMode,
        string scoreColumnName = BayesianColumnNames.Score, string inputName = MLNetInputName)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), "at least one sample is needed");
        var network = model.Network;
        if (network.Stage == BayesianStage.Deterministic) samples = 1;
        var g = new OnnxGraphBuilder();
        int c = model.Channels, h = model.Height, w = model.Width, k = model.ClassNames.Count;
        string x = rowMode ? inputName : "pixels";
        g.Input(x, DataType.Float, rowMode ? 1 : -1, c, h, w);

        if (inputScale != 1f) x = g.Node("Mul", new[] { x, g.Scalar("input_scale", inputScale) });
        var mean = Broadcast(model.NormalizeMean, c);
        var std = Broadcast(model.NormalizeStd, c);
        x = g.Node("Sub", new[] { x, g.Initializer("normalize_mean", mean, c, 1, 1) });
        x = g.Node("Div", new[] { x, g.Initializer("normalize_std", std, c, 1, 1) });

        var perSampleWeights = SampleWeights(model, samples, seed, g);
        var probabilities = new List<string>();
        for (int s = 0; s < samples; s++)
        {
            var exporter = new OnnxNetworkExporter(g, perSampleWeights[s]);
            string logits = exporter.Export(network.Network, x);
            string p = g.Node("Softmax", new[] { logits }, ("axis", 1L));
            probabilities.Add(g.Node("Unsqueeze", new[] { p, g.Int64s("axes", 0) }));
        }
        string all = probabilities.Count == 1 ? probabilities[0] : g.Node("Concat", probabilities.ToArray(), ("axis", 0L));   // [S, N, K]
        string tiny = g.Scalar("tiny", 1e-30f);
        string meanP = g.Node("ReduceMean", new[] { all }, ("axes", new long[] { 0 }), ("keepdims", 0L));                     // [N, K]
        string entropy = g.Node("Neg", new[] { g.Node("ReduceSum", new[] { g.Node("Mul", new[] { meanP, g.Node("Log", new[] { g.Node("Max", new[] { meanP, tiny }) }) }), g.Int64s("axes", 1) }, ("keepdims", 0L)) });
        string perSampleEntropy = g.Node("Neg", new[] { g.Node("ReduceSum", new[] { g.Node("Mul", new[] { all, g.Node("Log", new[] { g.Node("Max", new[] { all, tiny }) }) }), g.Int64s("axes", 2) }, ("keepdims", 0L)) });
        string expected = g.Node("ReduceMean", new[] { perSampleEntropy }, ("axes", new long[] { 0 }), ("keepdims", 0L));
        string mutual = g.Node("Max", new[] { g.Node("Sub", new[] { entropy, expected }), g.Scalar("zero", 0f) });
        string confidence = g.Node("ReduceMax", new[] { meanP }, ("axes", new long[] { 1 }), ("keepdims", 0L));
        string predicted = g.Node("ArgMax", new[] { meanP }, ("axis", 1L), ("keepdims", 0L));
        string label = g.Node("Gather", new[] { g.StringInitializer("class_names", model.ClassNames), predicted }, ("axis", 0L));

        if (rowMode)
        {
            // OnnxTransformer reads only tensors: each row output is a one-element vector (OnnxOutputSqueeze makes
            // scalars of them), the scores a [K] vector, and the class index goes out as int64.
            string Squeeze(string v) => g.Node("Squeeze", new[] { v, g.Int64s("axes", 0) });
            g.Output(Squeeze(meanP), scoreColumnName, DataType.Float, k);
            g.Output(confidence, OnnxOutputSqueeze.Names.Confidence, DataType.Float, 1);
            g.Output(entropy, OnnxOutputSqueeze.Names.PredictiveEntropy, DataType.Float, 1);
            g.Output(expected, OnnxOutputSqueeze.Names.ExpectedEntropy, DataType.Float, 1);
            g.Output(mutual, OnnxOutputSqueeze.Names.MutualInformation, DataType.Float, 1);
            g.Output(predicted, OnnxOutputSqueeze.Names.PredictedClass, DataType.Int64, 1);
        }
        else
        {
            g.Output(meanP, "probabilities", DataType.Float, -1, k);
            g.Output(predicted, "predicted_class", DataType.Int64, -1);
            g.Output(label, "predicted_label", DataType.String, -1);
            g.Output(confidence, "confidence", DataType.Float, -1);
            g.Output(entropy, "predictive_entropy", DataType.Float, -1);
            g.Output(expected, "expected_entropy", DataType.Float, -1);
            g.Output(mutual, "mutual_information", DataType.Float, -1);
        }

        var inv = CultureInfo.InvariantCulture;
        var metadata = new Dictionary<string, string>
        {
            ["format"] = FormatVersion,
            ["library_version"] = typeof(BayesianOnnxExport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown",
            ["labels"] = JsonSerializer.Serialize(model.ClassNames),
            ["samples"] = samples.ToString(inv),
            ["seed"] = seed.ToString(inv),
            ["input_shape"] = $"[{c},{h},{w}]",
            ["normalize_mean"] = JsonSerializer.Serialize(mean),
            ["normalize_std"] = JsonSerializer.Serialize(std),
            ["input_scale"] = inputScale.ToString("R", inv),
            ["stage"] = network.Stage.ToString(),
            ["variant"] = network.Posterior?.Variant.ToString() ?? "",
        };
        return g.Build(metadata);
    }

    internal const string MLNetInputName = "__mlnb_pixels";

    /// <summary>
    /// Draws the S posterior samples with the scorer's seeds (BayesianImageClassifier.Predict) and writes them:
    /// for the shared variant as value tables gathered through the compact index, otherwise as full weight
    /// vectors. Returns, per sample, the ONNX value name of every Bayesian layer's weight.
    /// </summary>
    static List<Dictionary<nn.Module, string>> SampleWeights(BayesianImageClassifier model, int samples, int seed, OnnxGraphBuilder g)
    {
        var network = model.Network;
        var layers = network.Layers.Select(l => l.Layer).ToList();
        var result = new List<Dictionary<nn.Module, string>>();
        if (layers.Count == 0)
        {
            result.Add(new Dictionary<nn.Module, string>());
            return result;
        }
        bool tables = network.Posterior is { Variant: SamplingVariant.Shared };
        var drawn = new List<float[]>();
        network.eval();
        foreach (var layer in layers) { layer.SampleWeights = true; layer.CaptureWeight = !tables; }
        if (tables) network.Posterior!.CaptureTable = true;
        using var generator = new Generator(0, model.Device);
        try
        {
            network.NoiseGenerator = generator;
            using var pause = GcPause.Begin();
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var probe = zeros(1, model.Channels, model.Height, model.Width, device: model.Device);
            for (int s = 0; s < samples; s++)
            {
                generator.manual_seed(BayesianImageClassifier.SampleSeed(seed, s));
                network.call(probe);
                drawn.Add(tables ? network.Posterior!.CapturedTable! : layers.SelectMany(l => l.CapturedWeight!).ToArray());
            }
        }
        finally
        {
            network.NoiseGenerator = null;
            foreach (var layer in layers) layer.CaptureWeight = false;
            if (network.Posterior is not null) network.Posterior.CaptureTable = false;
        }

        int width = drawn[0].Length;
        string source = g.Initializer(tables ? "posterior_tables" : "weight_samples", drawn.SelectMany(v => v).ToArray(), samples, width);
        string? index = null;
        if (tables)
        {
            var plan = network.Posterior!.Plan;
            // Weights point into [components | outliers | blends]; the compact index holds components only,
            // and outliers and blends are scattered on top, as in the training graph.
            index = ScatterIndex(g, plan);
        }
        long[] offsets = new long[layers.Count];
        for (int i = 1; i < layers.Count; i++) offsets[i] = offsets[i - 1] + layers[i - 1].WeightCount;
        for (int s = 0; s < samples; s++)
        {
            string row = g.Node("Gather", new[] { source, g.Initializer("sample", new long[] { s }) }, ("axis", 0L));   // [1, width]
            row = g.Node("Reshape", new[] { row, g.Int64s("flat", -1) });
            string flat = index is null ? row : g.Node("Gather", new[] { row, index }, ("axis", 0L));
            var names = new Dictionary<nn.Module, string>();
            for (int i = 0; i < layers.Count; i++)
            {
                string slice = g.Node("Slice", new[] { flat, g.Int64s("start", offsets[i]), g.Int64s("end", offsets[i] + layers[i].WeightCount), g.Int64s("axis", 0) });
                names[layers[i]] = g.Node("Reshape", new[] { slice, g.Int64s("shape", layers[i].WeightShape) });
            }
            result.Add(names);
        }
        return result;
    }

    /// <summary>
    /// The per-weight gather index into a value table, built in the graph from the compact component index:
    /// Cast(uint8/uint16 -> int64), then ScatterElements puts K + o at outlier positions and K + O + e at
    /// ellipse positions (both position lists are small).
    /// </summary>
    static string ScatterIndex(OnnxGraphBuilder g, SharedPosteriorPlan plan)
    {
        string index = g.Node("Cast", new[] { g.IndexInitializer("component_index", plan.CompactComponentIndex) }, ("to", (long)DataType.Int64));
        int k = plan.Components.Length, o = plan.OutlierPositions.Length, e = plan.EllipsePositions.Length;
        if (o + e == 0) return index;
        var positions = plan.OutlierPositions.Concat(plan.EllipsePositions).Select(p => (long)p).ToArray();
        var slots = Enumerable.Range(0, o + e).Select(j => (long)(k + j)).ToArray();
        return g.Node("ScatterElements", new[] { index, g.Initializer("positions", positions, positions.Length), g.Initializer("slots", slots, slots.Length) }, ("axis", 0L));
    }

    static float[] Broadcast(float[] values, int channels)
        => values.Length == channels ? values : values.Length == 1 ? Enumerable.Repeat(values[0], channels).ToArray()
            : throw new ArgumentException($"Normalisation has {values.Length} values for {channels} channels.");
}
