using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Tests.Onnx;

[TestClass]
public sealed class OnnxExportTests
{
    static BayesianImageClassifier Train(Architecture architecture, SamplingVariant variant, int sharedEpochs = 1)
    {
        // Parity needs a trained posterior, not a good one: ResNet20 trains on 10 images a class (on 40 it took 2.5 min
        // of the suite on 2 cores).
        int perClass = architecture == Architecture.ResNet20 ? 10 : 40;
        var options = new TrainerOptions
        {
            DeterministicEpochs = 2, MeanFieldEpochs = 1, SharedEpochs = sharedEpochs, BatchSize = 32, LearningRate = 3e-3, Variant = variant,
            SharedPosterior = { ComponentBudget = 64, MinMembers = 10 },
        };
        return new BayesianTrainer(options).Fit(ArchitectureFactory.Create(architecture), TestData.Train.StratifiedHead(perClass));
    }

    static (float[] Probabilities, long[] Classes, float[] MutualInformation, float[] FeatureDistance, float[] Energy) RunOnnx(byte[] onnx, float[] pixels, int n, int c, int h, int w)
    {
        using var session = new InferenceSession(onnx);
        var input = new DenseTensor<float>(pixels, new[] { n, c, h, w });
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("pixels", input) });
        var byName = results.ToDictionary(r => r.Name);
        return (byName["probabilities"].AsTensor<float>().ToArray(), byName["predicted_class"].AsTensor<long>().ToArray(),
            byName["mutual_information"].AsTensor<float>().ToArray(), byName["feature_distance"].AsTensor<float>().ToArray(),
            byName["energy"].AsTensor<float>().ToArray());
    }

    [TestMethod]
    [DataRow(Architecture.SmallCnn, SamplingVariant.Shared, 0.5)]
    [DataRow(Architecture.SmallCnn, SamplingVariant.Hierarchical, 0.5)]
    [DataRow(Architecture.ResNet20, SamplingVariant.Shared, 1.0)]
    public void OnnxScoresMatchTorchSharpOnTheSameDraws(Architecture architecture, SamplingVariant variant, double posteriorScale)
    {
        using var model = Train(architecture, variant);
        // A posterior scale other than 1 reaches the saved draws too (the shared variant's tables are drawn apart).
        model.Network.PosteriorScale = posteriorScale;
        var probe = TestData.Test.StratifiedHead(5);
        const int samples = 6, seed = 11;
        var torch = model.Predict(probe.Pixels, samples, seed: seed);
        byte[] onnx = BayesianOnnxExport.Export(model, samples, seed);
        OnnxChecker.AssertValid(onnx, $"{architecture}/{variant}");
        // The checker does refuse a broken graph: the same one with a node reading a tensor that nothing makes.
        var broken = global::Onnx.ModelProto.Parser.ParseFrom(onnx);
        broken.Graph.Node[^1].Input[0] = "no_such_tensor";
        Assert.IsFalse(OnnxChecker.Check(Google.Protobuf.MessageExtensions.ToByteArray(broken)).Valid, "the checker refuses a dangling input");
        var (probabilities, classes, mutual, distance, energy) = RunOnnx(onnx, probe.Pixels, probe.Count, 1, 28, 28);
        double maxDiff = probabilities.Zip(torch.Probabilities, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"{architecture}/{variant}: max |ONNX - TorchSharp| = {maxDiff:E2}, ONNX bytes {onnx.Length:N0}");
        Assert.IsTrue(maxDiff <= 1e-4, $"max difference {maxDiff}");
        CollectionAssert.AreEqual(torch.PredictedClass.Select(v => (long)v).ToArray(), classes);
        for (int i = 0; i < probe.Count; i++) Assert.AreEqual(torch.MutualInformation[i], mutual[i], 1e-4);
        // The feature distance: the same features (the last layer's input, averaged over the draws) and the same fit.
        Assert.IsNotNull(model.FeatureGaussians, "the trainer fits the feature Gaussians");
        Assert.IsTrue(torch.FeatureDistance.All(d => d > 0), "familiar images are still some way from their class mean");
        for (int i = 0; i < probe.Count; i++)
            Assert.AreEqual(torch.FeatureDistance[i], distance[i], 1e-3 * Math.Max(1, torch.FeatureDistance[i]), $"row {i}");
        for (int i = 0; i < probe.Count; i++) Assert.AreEqual(torch.Energy[i], energy[i], 1e-4 * Math.Max(1, Math.Abs(torch.Energy[i])), $"energy, row {i}");
    }

    [TestMethod]
    [DataRow(SamplingVariant.Shared)]
    [DataRow(SamplingVariant.Hierarchical)]
    public void EachLayerBuildsItsWeightsFromItsOwnInitializers(SamplingVariant variant)
    {
        // ONNX Runtime constant-folds the weight construction at every session start. A network-wide weight vector
        // sliced by every layer made that quadratic: ResNet-101's session took minutes to start. Each layer's weights
        // must come from initializers no bigger than that layer's S draws (plus the shared value tables).
        using var model = Train(Architecture.SmallCnn, variant);
        const int samples = 3;
        var proto = global::Onnx.ModelProto.Parser.ParseFrom(BayesianOnnxExport.Export(model, samples, 7));
        Assert.IsFalse(proto.Graph.Node.Any(n => n.OpType == "Slice"), "no layer slices a shared weight vector");
        var largestLayer = model.Network.Layers.Max(l => l.Layer.WeightCount);
        foreach (var t in proto.Graph.Initializer)
        {
            long size = t.Dims.Aggregate(1L, (a, b) => a * b);
            if (t.Name.StartsWith("posterior_tables")) continue;
            Assert.IsTrue(size <= samples * largestLayer, $"{t.Name} holds {size} values, more than {samples} draws of the largest layer ({largestLayer})");
        }
        int indices = proto.Graph.Initializer.Count(t => t.Name.StartsWith("component_index"));
        Assert.AreEqual(variant == SamplingVariant.Shared ? model.Network.Layers.Count : 0, indices, "one compact index per Bayesian layer");
    }

    [TestMethod]
    public void MetadataDescribesTheModelAndOldFormatsAreRefused()
    {
        using var model = Train(Architecture.SmallCnn, SamplingVariant.Shared);
        byte[] onnx = BayesianOnnxExport.Export(model, 3, 5);
        var metadata = BayesianOnnxExport.ReadMetadata(onnx);
        Assert.AreEqual(BayesianOnnxExport.FormatVersion, metadata["format"]);
        Assert.AreEqual("3", metadata["samples"]);
        Assert.AreEqual("5", metadata["seed"]);
        Assert.AreEqual("[1,28,28]", metadata["input_shape"]);
        StringAssert.Contains(metadata["labels"], "Ankle-boot");

        var proto = global::Onnx.ModelProto.Parser.ParseFrom(onnx);
        proto.MetadataProps.Single(p => p.Key == "format").Value = "mlnet-bayesian-onnx/0";
        var e = Assert.ThrowsExactly<InvalidDataException>(() => BayesianOnnxExport.ReadMetadata(Google.Protobuf.MessageExtensions.ToByteArray(proto), "old.onnx"));
        StringAssert.Contains(e.Message, "old.onnx");
        StringAssert.Contains(e.Message, BayesianOnnxExport.FormatVersion);
        Assert.ThrowsExactly<InvalidDataException>(() => BayesianOnnxExport.ReadMetadata(new byte[] { 1, 2, 3, 4, 5, 6, 7 }, "junk.onnx"));
    }
}
