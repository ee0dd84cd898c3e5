using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
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
            values[d.SnakeName] = scores[d.Score] = d.Export(inputs);

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
    /// Writes the S draws (seed, s) of the posterior: for the shared variant its value tables gathered through
    /// each layer's compact index, otherwise each layer's S weight draws. Returns, per sample, the ONNX value name of every
    /// Bayesian layer's weight.
    /// </summary>
    static List<Dictionary<nn.Module, string>> WriteDraws(BayesianImageClassifier model, int samples, int seed, OnnxGraphBuilder g)
    {
        var network = model.Network;
        var layers = network.Layers.Select(l => l.Layer).ToList();
        var result = new List<Dictionary<nn.Module, string>>();
        if (layers.Count == 0)
        {
            // Deterministic (one sample) or a deep ensemble: every sample's module holds its own weights.
            for (int s = 0; s < samples; s++) result.Add(new Dictionary<nn.Module, string>());
            return result;
        }
        if (network.Stage == BayesianStage.McDropout) return WriteDropoutDraws(network, layers, samples, seed, g);
        var shared = network.SharedPosterior is { Variant: SamplingVariant.Shared } posterior ? posterior : null;
        var drawn = new List<float[]>();
        using (no_grad())
            for (int s = 0; s < samples; s++)
            {
                using var scope = NewDisposeScope();
                if (shared is not null)
                {
                    using var noise = NoiseSource.Seeded(DrawSeeds.Of(seed, s), network.PosteriorScale);
                    drawn.Add(shared.DrawTable(noise).cpu().data<float>().ToArray());
                }
                else
                {
                    using var draw = network.Draw(seed, s);
                    drawn.Add(draw.ToArrays().SelectMany(v => v).ToArray());
                }
            }

        // One index and one weight per layer, never a network-wide tensor that every layer slices: ONNX Runtime
        // constant-folds the weight construction when a session starts, and folding 200 Slices of one 42M-value
        // tensor (ResNet-101) took 2-3 minutes and gigabytes at every save and load; per layer it takes seconds.
        long[] offsets = new long[layers.Count];
        for (int i = 1; i < layers.Count; i++) offsets[i] = offsets[i - 1] + layers[i - 1].WeightCount;
        if (shared is null)
        {
            // Mean-field or hierarchical draws: each layer's S draws as one [S, weights] initializer.
            var perLayer = new string[layers.Count];
            for (int i = 0; i < layers.Count; i++)
            {
                int start = (int)offsets[i], count = (int)layers[i].WeightCount;
                var values = new float[samples * count];
                for (int s = 0; s < samples; s++) Array.Copy(drawn[s], start, values, s * count, count);
                perLayer[i] = g.Initializer($"weight_samples_{i}", values, samples, count);
            }
            for (int s = 0; s < samples; s++)
            {
                string sample = g.Initializer("sample", new long[] { s });
                var names = new Dictionary<nn.Module, string>();
                for (int i = 0; i < layers.Count; i++)
                    names[layers[i]] = g.Node("Reshape", new[] { g.Node("Gather", new[] { perLayer[i], sample }, ("axis", 0L)), g.Int64s("shape", layers[i].WeightShape) });
                result.Add(names);
            }
            return result;
        }

        // 2DGBNN shared: the S value tables ([S, components + outliers + blends]) and a compact index per layer.
        int width = drawn[0].Length;
        string tables = g.Initializer("posterior_tables", drawn.SelectMany(v => v).ToArray(), samples, width);
        var indices = Enumerable.Range(0, layers.Count).Select(i => ScatterIndex(g, shared.Plan, offsets[i], layers[i].WeightCount)).ToArray();
        for (int s = 0; s < samples; s++)
        {
            string row = g.Node("Gather", new[] { tables, g.Initializer("sample", new long[] { s }) }, ("axis", 0L));   // [1, width]
            row = g.Node("Reshape", new[] { row, g.Int64s("flat", -1) });
            var names = new Dictionary<nn.Module, string>();
            for (int i = 0; i < layers.Count; i++)
                names[layers[i]] = g.Node("Reshape", new[] { g.Node("Gather", new[] { row, indices[i] }, ("axis", 0L)), g.Int64s("shape", layers[i].WeightShape) });
            result.Add(names);
        }
        return result;
    }

    /// <summary>
    /// MC dropout: each layer's trained weight once and, for a layer whose input is dropped, its S masks ([S, in]);
    /// draw s is Mul(weight, mask s), the product the in-memory draw computes, so both score alike to the bit of the
    /// weights. S masked copies of every weight made the saved model S times the deterministic one (11.5 MB at S = 30
    /// for the small CNN).
    /// </summary>
    static List<Dictionary<nn.Module, string>> WriteDropoutDraws(BayesianNetwork network, List<StochasticLayer> layers, int samples, int seed, OnnxGraphBuilder g)
    {
        // Per layer: the weight's initializer, and for a dropped input the S masks as one [S, in] table and the shape
        // one mask has in the draw (taken from the mask itself, so the graph broadcasts it as the draw does).
        var weights = new string[layers.Count];
        var tables = new string?[layers.Count];
        var maskShapes = new long[]?[layers.Count];
        using (no_grad())
        {
            var masks = new List<float>?[layers.Count];
            for (int s = 0; s < samples; s++)
            {
                using var scope = NewDisposeScope();
                var drawn = network.McDropoutMasks(seed, s);
                for (int i = 0; i < layers.Count; i++)
                {
                    if (drawn[i] is not Tensor mask) continue;
                    maskShapes[i] = mask.shape;
                    (masks[i] ??= new List<float>()).AddRange(mask.cpu().data<float>().ToArray());
                }
            }
            for (int i = 0; i < layers.Count; i++)
            {
                using var scope = NewDisposeScope();
                weights[i] = g.Initializer($"weight_{i}", layers[i].WeightMu!.detach().cpu().contiguous().data<float>().ToArray(), layers[i].WeightShape);
                if (masks[i] is { } values) tables[i] = g.Initializer($"dropout_masks_{i}", values.ToArray(), samples, values.Count / samples);
            }
        }
        var result = new List<Dictionary<nn.Module, string>>();
        for (int s = 0; s < samples; s++)
        {
            string sample = g.Initializer("sample", new long[] { s });
            var names = new Dictionary<nn.Module, string>();
            for (int i = 0; i < layers.Count; i++)
            {
                if (tables[i] is not string table) { names[layers[i]] = weights[i]; continue; }
                string row = g.Node("Gather", new[] { table, sample }, ("axis", 0L));   // [1, in]
                names[layers[i]] = g.Node("Mul", new[] { weights[i], g.Node("Reshape", new[] { row, g.Int64s("shape", maskShapes[i]!) }) });
            }
            result.Add(names);
        }
        return result;
    }

    /// <summary>
    /// One layer's gather index into a value table, built in the graph from its part of the compact component index
    /// (weights <paramref name="start"/> to start + count - 1): Cast(uint8/uint16 -> int64), then ScatterElements puts
    /// K + o at the layer's outlier positions and K + O + e at its ellipse positions (both lists are small), as in
    /// SharedPosteriorPlan.GatherIndex.
    /// </summary>
    static string ScatterIndex(OnnxGraphBuilder g, SharedPosteriorPlan plan, long start, long count)
    {
        var compact = plan.CompactComponentIndex;
        var part = Array.CreateInstance(compact.GetType().GetElementType()!, count);
        Array.Copy(compact, start, part, 0, count);
        string index = g.Node("Cast", new[] { g.IndexInitializer("component_index", part) }, ("to", (long)DataType.Int64));
        int k = plan.Components.Length, o = plan.OutlierPositions.Length;
        var positions = new List<long>();
        var slots = new List<long>();
        for (int j = 0; j < o; j++)
            if (plan.OutlierPositions[j] >= start && plan.OutlierPositions[j] < start + count) { positions.Add(plan.OutlierPositions[j] - start); slots.Add(k + j); }
        for (int e = 0; e < plan.EllipsePositions.Length; e++)
            if (plan.EllipsePositions[e] >= start && plan.EllipsePositions[e] < start + count) { positions.Add(plan.EllipsePositions[e] - start); slots.Add(k + o + e); }
        if (positions.Count == 0) return index;
        return g.Node("ScatterElements", new[] { index, g.Initializer("positions", positions.ToArray(), positions.Count), g.Initializer("slots", slots.ToArray(), slots.Count) }, ("axis", 0L));
    }

    static float[] Broadcast(float[] values, int channels)
        => values.Length == channels ? values : values.Length == 1 ? Enumerable.Repeat(values[0], channels).ToArray()
            : throw new ArgumentException($"Normalisation has {values.Length} values for {channels} channels.");
}
