using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Torch;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// The MC-dropout and deep-ensemble baselines (<see cref="TrainerOptions.Method"/>): their draws are what they claim,
/// training is seeded, and they score alike in memory, through ML.NET and in the saved ONNX form.
/// </summary>
[TestClass]
public sealed class BaselineMethodsTests
{
    static ImageSet Small => TestData.Train.StratifiedHead(20);

    static TrainerOptions Options(BayesianMethod method, int seed = 3) => new()
    {
        Method = method, DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 0, BatchSize = 50, LearningRate = 3e-3,
        DropoutRate = 0.2, EnsembleMembers = 3, PredictionSamples = 6, Seed = seed,
    };

    static BayesianImageClassifier Train(BayesianMethod method, int seed = 3, List<TrainingProgress>? progress = null)
        => new BayesianTrainer(Options(method, seed)) { Progress = p => progress?.Add(p) }.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), Small);

    /// <summary>The progress reports count every batch the run takes, and the plan is exactly that many.</summary>
    static void AssertProgressAddsUp(List<TrainingProgress> progress, long expectedBatches)
    {
        Assert.AreEqual(expectedBatches, progress.Count, "one report per batch");
        Assert.IsTrue(progress.All(p => p.BatchesPlanned == expectedBatches), $"planned {progress[0].BatchesPlanned}, ran {expectedBatches}");
        Assert.AreEqual(expectedBatches, progress[^1].BatchesDone);
        Assert.AreEqual(1.0, progress[^1].Fraction);
    }

    static float[] Weights(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    [TestMethod]
    public void McDropoutDrawIsTheWeightWithDroppedInputColumnsScaled()
    {
        random.manual_seed(1);
        var first = nn.Linear(3, 40);
        var second = nn.Linear(40, 2);
        using var network = new BayesianNetwork(nn.Sequential(first, nn.ReLU(), second));
        var w0 = Weights(first.weight!);
        var w1 = Weights(second.weight!);
        var b1 = Weights(second.bias!);
        network.UseMcDropout(0.5);
        network.eval();

        using var draw = network.Draw(seed: 7, sample: 0);
        CollectionAssert.AreEqual(w0, draw.ToArrays()[0], "the first layer's input (the pixels) is never dropped");
        var drawn = draw.ToArrays()[1];
        var kept = new bool[40];
        for (int j = 0; j < 40; j++)
        {
            // Column j is either dropped for every output, or kept and scaled by 1 / (1 - p) = 2.
            bool dropped = drawn[j] == 0 && drawn[40 + j] == 0;
            kept[j] = !dropped;
            for (int o = 0; o < 2; o++)
                Assert.AreEqual(dropped ? 0f : 2 * w1[o * 40 + j], drawn[o * 40 + j], 1e-6f, $"output {o}, input {j}");
        }
        Assert.IsTrue(kept.Count(k => k) is > 5 and < 35, $"{kept.Count(k => k)} of 40 inputs kept at p = 0.5");

        // The forward pass on that draw is dropout on the second layer's input, by hand.
        using var x = tensor(new float[] { 0.3f, -1.2f, 0.8f }, new long[] { 1, 3 });
        using var y = network.Forward(x, draw);
        var hidden = Weights(nn.functional.relu(nn.functional.linear(x, network.Layers[0].Layer.WeightMu!, network.Layers[0].Layer.Bias)));
        for (int o = 0; o < 2; o++)
        {
            double expected = b1[o];
            for (int j = 0; j < 40; j++) expected += kept[j] ? w1[o * 40 + j] * hidden[j] * 2 : 0;
            Assert.AreEqual(expected, Weights(y)[o], 1e-4, $"output {o}");
        }
    }

    [TestMethod]
    public void McDropoutOnAConvolutionDropsWholeInputChannels()
    {
        random.manual_seed(2);
        var conv2 = nn.Conv2d(8, 4, 3, padding: 1);
        using var network = new BayesianNetwork(nn.Sequential(nn.Conv2d(1, 8, 3, padding: 1), nn.ReLU(), conv2, nn.Flatten(), nn.Linear(4 * 5 * 5, 3)));
        var w = Weights(conv2.weight!);
        network.UseMcDropout(0.25);
        int droppedChannels = 0, draws = 40;
        for (int s = 0; s < draws; s++)
        {
            using var draw = network.Draw(seed: 1, sample: s);
            var drawn = draw.ToArrays()[1];   // [4, 8, 3, 3]
            for (int c = 0; c < 8; c++)
            {
                var slots = Enumerable.Range(0, 4).SelectMany(o => Enumerable.Range(0, 9).Select(k => (o * 8 + c) * 9 + k)).ToList();
                bool dropped = drawn[slots[0]] == 0;
                if (dropped) droppedChannels++;
                foreach (int i in slots) Assert.AreEqual(dropped ? 0f : w[i] / 0.75f, drawn[i], 1e-6f, $"draw {s}, channel {c}, slot {i}");
            }
        }
        double rate = droppedChannels / (8.0 * draws);
        Console.WriteLine($"dropped {rate:P1} of input channels at p = 0.25");
        Assert.AreEqual(0.25, rate, 0.08, "channels are dropped at the configured rate");
    }

    [TestMethod]
    public void TrainingDropoutDropsPerExampleOnlyInTrainingMode()
    {
        random.manual_seed(3);
        var net = nn.Sequential(nn.Linear(10, 30), nn.ReLU(), nn.Linear(30, 2));
        using var rows = ones(4, 10);
        using var plain = net.call(rows).detach().clone();
        using (InputDropout.Install(net, 0.5, NoiseSource.Global))
        {
            net.train();
            using var dropped = net.call(rows);
            var values = Weights(dropped);
            Assert.IsTrue(Enumerable.Range(1, 3).Any(r => values[2 * r] != values[0]), "four identical rows get different masks");
            net.eval();
            CollectionAssert.AreEqual(Weights(plain), Weights(net.call(rows)), "evaluation mode passes the inputs through");
        }
        net.train();
        CollectionAssert.AreEqual(Weights(plain), Weights(net.call(rows)), "removing the hooks removes the dropout");
    }

    [TestMethod]
    public void McDropoutTrainsReproduciblyAndItsDrawsDependOnSeedAndS()
    {
        var progress = new List<TrainingProgress>();
        using var model = Train(BayesianMethod.McDropout, progress: progress);
        AssertProgressAddsUp(progress, 4 * 2);   // 200 images in batches of 50, 1 + 1 + 0 epochs
        using var again = Train(BayesianMethod.McDropout);
        Assert.AreEqual(BayesianStage.McDropout, model.Network.Stage);
        var probe = TestData.Test.StratifiedHead(3).Pixels;
        var a = model.Predict(probe, 6, seed: 5);
        CollectionAssert.AreEqual(a.Probabilities, again.Predict(probe, 6, seed: 5).Probabilities, "same seed, same model");
        Assert.AreEqual(6, a.Samples);
        Assert.IsTrue(a.MutualInformation.Max() > 0, "the masks disagree");

        float[] Draw(int seed, int s) { using var d = model.Network.Draw(seed, s); return d.ToArrays()[1]; }
        CollectionAssert.AreEqual(Draw(5, 1), Draw(5, 1));
        Assert.IsFalse(Draw(5, 1).SequenceEqual(Draw(5, 2)), "draw 2 differs from draw 1");
        Assert.IsFalse(Draw(5, 1).SequenceEqual(Draw(6, 1)), "seed 6 differs from seed 5");

        var epochs = Options(BayesianMethod.McDropout);
        var stage = model.Report.Stages.Single();
        Assert.AreEqual(BayesianStage.McDropout, stage.Stage);
        Assert.AreEqual(epochs.DeterministicEpochs + epochs.MeanFieldEpochs + epochs.SharedEpochs, stage.Epochs, "2DGBNN's budget of epochs");
        Assert.AreEqual(model.Report.DeterministicParameters, stage.TrainableParameters, "MC dropout trains one network's parameters");
    }

    [TestMethod]
    public void DeepEnsembleMembersDifferAndDrawSRunsMemberSModM()
    {
        var progress = new List<TrainingProgress>();
        using var model = Train(BayesianMethod.DeepEnsemble, progress: progress);
        AssertProgressAddsUp(progress, 4 * 3);   // 200 images in batches of 50, one epoch per member
        var network = model.Network;
        Assert.AreEqual(BayesianStage.DeepEnsemble, network.Stage);
        Assert.AreEqual(3, network.Members.Count);
        var firstLayers = network.Members.Select(m => Weights(m.modules().OfType<Conv2d>().First().weight!)).ToList();
        Assert.IsFalse(firstLayers[0].SequenceEqual(firstLayers[1]) || firstLayers[1].SequenceEqual(firstLayers[2]), "members start from different seeds");

        for (int s = 0; s < 7; s++)
            using (var draw = network.Draw(seed: 9, sample: s)) Assert.AreEqual(s % 3, draw.Member, $"draw {s}");
        var probe = TestData.Test.StratifiedHead(2);
        var scored = model.Predict(probe.Pixels, 30, seed: 4, keepSamples: true);
        Assert.AreEqual(3, scored.Samples, "S is the number of members");
        Assert.IsTrue(scored.MutualInformation.Max() > 0, "the members disagree somewhere");
        using var x = model.ToInput(probe.Pixels, probe.Count);
        network.eval();
        using (no_grad())
            for (int m = 0; m < 3; m++)
            {
                var expected = Weights(nn.functional.softmax(network.Members[m].call(x), 1));
                var sample = scored.SampleProbabilities!.Skip(m * expected.Length).Take(expected.Length).ToArray();
                for (int i = 0; i < expected.Length; i++) Assert.AreEqual(expected[i], sample[i], 1e-6, $"member {m}, value {i}");
            }
        CollectionAssert.AreEqual(scored.Probabilities, model.Predict(probe.Pixels, 30).Probabilities, "unseeded, an ensemble still averages all of its members");

        // Member 0 is 2DGBNN's stage 0 at the same seed; the report counts M networks.
        var deterministicOptions = Options(BayesianMethod.TwoDGbnn);
        deterministicOptions.MeanFieldEpochs = 0;
        using var deterministic = new BayesianTrainer(deterministicOptions).Fit(ArchitectureFactory.Create(Architecture.SmallCnn), Small);
        CollectionAssert.AreEqual(Weights(deterministic.Network.Network.modules().OfType<Conv2d>().First().weight!), firstLayers[0]);
        Assert.AreEqual(4, model.Report.Stages.Count, "three members, then the ensemble");
        Assert.AreEqual(3 * model.Report.DeterministicParameters, model.Report.Stages[^1].TrainableParameters);
        Assert.AreEqual(3 * model.Report.DeterministicParameters, network.TrainableParameterCount);
    }

    [TestMethod]
    [DataRow(BayesianMethod.McDropout)]
    [DataRow(BayesianMethod.DeepEnsemble)]
    public void OnnxExportScoresLikeTheModelInMemory(BayesianMethod method)
    {
        using var model = Train(method);
        var probe = TestData.Test.StratifiedHead(4);
        var torch = model.Predict(probe.Pixels, 5, seed: 11);
        byte[] onnx = BayesianOnnxExport.Export(model, 5, 11);
        var metadata = BayesianOnnxExport.ReadMetadata(onnx);
        Assert.AreEqual(method.ToString(), metadata["stage"]);
        Assert.AreEqual(method == BayesianMethod.DeepEnsemble ? "3" : "5", metadata["samples"]);
        // MC dropout stores its weights once and S masks of the dropped inputs, not S masked copies of every weight.
        if (method == BayesianMethod.McDropout)
            Assert.IsTrue(onnx.Length < 1.5 * sizeof(float) * model.Report.DeterministicParameters,
                $"{onnx.Length:N0} bytes for {model.Report.DeterministicParameters:N0} weights at S = 5");
        using var session = new InferenceSession(onnx);
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("pixels", new DenseTensor(probe.Pixels, new[] { probe.Count, 1, 28, 28 })) });
        var byName = results.ToDictionary(r => r.Name);
        var probabilities = byName["probabilities"].AsTensor<float>().ToArray();
        var mutual = byName["mutual_information"].AsTensor<float>().ToArray();
        double worst = probabilities.Zip(torch.Probabilities, (a, b) => Math.Abs(a - b)).Max();
        Console.WriteLine($"{method}: max |ONNX - TorchSharp| = {worst:E2}");
        Assert.IsTrue(worst <= 1e-4, $"max difference {worst}");
        for (int i = 0; i < probe.Count; i++) Assert.AreEqual(torch.MutualInformation[i], mutual[i], 1e-4, $"row {i}");
        // One feature fit per member (3 for the ensemble), averaged over the members in both.
        Assert.AreEqual(method == BayesianMethod.DeepEnsemble ? 3 : 1, model.FeatureGaussians!.Count);
        var distance = byName["feature_distance"].AsTensor<float>().ToArray();
        for (int i = 0; i < probe.Count; i++)
            Assert.AreEqual(torch.FeatureDistance[i], distance[i], 1e-3 * Math.Max(1, torch.FeatureDistance[i]), $"feature distance, row {i}");
        var energy = byName["energy"].AsTensor<float>().ToArray();
        for (int i = 0; i < probe.Count; i++) Assert.AreEqual(torch.Energy[i], energy[i], 1e-4 * Math.Max(1, Math.Abs(torch.Energy[i])), $"energy, row {i}");
    }

    public sealed class Input
    {
        [VectorType(784)] public float[] Pixels { get; set; } = new float[784];
        public string Label { get; set; } = "";
    }

    [TestMethod]
    [DataRow(BayesianMethod.McDropout)]
    [DataRow(BayesianMethod.DeepEnsemble)]
    public void TheMethodOptionFlowsThroughMLNetAndTheSavedModelScoresAlike(BayesianMethod method)
    {
        var ml = new MLContext(seed: 1);
        var view = Small.ToDataView(ml);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
        var options = new BayesianImageClassificationTrainer.Options
        {
            Method = method, ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 0, BatchSize = 50, PredictionSamples = 4, EnsembleMembers = 2,
        };
        using var classifier = ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(keys.Transform(view));
        Assert.AreEqual(method == BayesianMethod.DeepEnsemble ? 2 : 4, classifier.Samples, "S: the members of an ensemble, else PredictionSamples");
        var model = keys.Append(classifier);
        var test = TestData.Test.StratifiedHead(5).ToDataView(ml);
        var scored = model.Transform(test);
        foreach (var column in OutputColumns.All(BayesianColumnNames.PredictedLabel, BayesianColumnNames.Score))
            Assert.IsTrue(scored.Schema.GetColumnOrNull(column.Name).HasValue, $"column {column.Name}");
        var rows = ml.Data.CreateEnumerable<BayesianPrediction>(scored, reuseRowObject: false).ToList();
        Assert.IsTrue(rows.Any(r => r.MutualInformation > 0), "mutual information is above 0 on some rows");
        Assert.IsTrue(rows.All(r => r.MutualInformation >= 0 && r.PredictiveEntropy >= r.ExpectedEntropy - 1e-5));

        var engine = ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(model);
        var single = engine.Predict(new Input { Pixels = TestData.Test.StratifiedHead(5).Image(0).ToArray() });
        Assert.AreEqual(rows[0].MutualInformation, single.MutualInformation, 1e-6f, "PredictionEngine scores like Transform");

        string zip = Path.Combine(TestData.TempFolder(), "model.zip");
        try
        {
            ml.Model.Save(model, view.Schema, zip);
            var ml2 = new MLContext(seed: 2);
            var loaded = BayesianModel.Load(ml2, zip, out _);
            Assert.AreEqual(method.ToString(), BayesianModel.Inspect(zip).Stage);
            var reloaded = ml2.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(TestData.Test.StratifiedHead(5).ToDataView(ml2)), reuseRowObject: false).ToList();
            for (int i = 0; i < rows.Count; i++)
            {
                Assert.AreEqual(rows[i].PredictedLabel, reloaded[i].PredictedLabel, $"row {i}");
                Assert.IsTrue(rows[i].Score.Zip(reloaded[i].Score, (a, b) => Math.Abs(a - b)).Max() <= 1e-4, $"row {i}: scores differ");
                Assert.AreEqual(rows[i].MutualInformation, reloaded[i].MutualInformation, 1e-4f, $"row {i}");
            }
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(zip)!, recursive: true);
        }
    }

    [TestMethod]
    [DataRow(nameof(TrainerOptions.DropoutRate), 0.0)]
    [DataRow(nameof(TrainerOptions.DropoutRate), 1.0)]
    [DataRow(nameof(TrainerOptions.DropoutRate), double.NaN)]
    [DataRow(nameof(TrainerOptions.EnsembleMembers), 1.0)]
    [DataRow(nameof(TrainerOptions.Method), 7.0)]
    public void BadBaselineOptionsAreRefusedByName(string option, double value)
    {
        var options = new TrainerOptions();
        switch (option)
        {
            case nameof(TrainerOptions.DropoutRate): options.DropoutRate = value; break;
            case nameof(TrainerOptions.EnsembleMembers): options.EnsembleMembers = (int)value; break;
            default: options.Method = (BayesianMethod)(int)value; break;
        }
        var e = Assert.ThrowsExactly<ArgumentOutOfRangeException>(options.Validate);
        Assert.AreEqual(option, e.ParamName);
        StringAssert.Contains(e.Message, option);
    }
}
