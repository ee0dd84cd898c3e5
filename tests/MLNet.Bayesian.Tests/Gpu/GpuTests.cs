using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Gpu;

/// <summary>
/// The GPU path end to end: train through ML.NET on CUDA, score with seeded draws that equal the CPU's, save and score
/// the zip on the CPU, serve with PredictionEngine, and keep memory flat. Without CUDA every test reports itself
/// skipped (inconclusive), not passed. The GPU kit (eng/gpu) runs them on a lent GPU.
/// </summary>
[TestClass]
[TestCategory("Gpu")]
public sealed class GpuTests
{
    static MLContext _ml = null!;
    static BayesianImageClassificationTransformer? _model;
    static ITransformer? _keys;
    static IDataView _probe = null!;

    public sealed class Input
    {
        [VectorType(784)] public float[] Pixels { get; set; } = new float[784];
        // The key mapping in front of the model reads a Label column; a serving input leaves it empty (as ServingTests does).
        public string Label { get; set; } = "";
    }

    static void RequireCuda()
    {
        if (!cuda.is_available())
            Assert.Inconclusive($"CUDA is not available ({MLNet.Bayesian.Torch.LibTorchRuntime.Description}); run eng/gpu on a machine with a GPU.");
    }

    [ClassInitialize]
    public static void TrainOnCuda(TestContext _)
    {
        if (!cuda.is_available()) return;
        _ml = new MLContext(seed: 1) { GpuDeviceId = 0, FallbackToCpu = false };
        var view = TestData.Train.StratifiedHead(60).ToDataView(_ml);
        _keys = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
        _model = _ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            DeterministicEpochs = 3, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 64, LearningRate = 3e-3, PredictionSamples = 8,
            SharedPosterior = { ComponentBudget = 32, MinMembers = 10 },
        }).Fit(_keys.Transform(view));
        _probe = _keys.Transform(TestData.Test.StratifiedHead(10).ToDataView(_ml));
    }

    [ClassCleanup]
    public static void Cleanup() => _model?.Dispose();

    [TestMethod]
    public void TrainsOnCudaThroughMLNet()
    {
        RequireCuda();
        Assert.AreEqual(DeviceType.CUDA, _model!.Model.Device.type);
        Assert.IsTrue(_model.Model.Network.parameters().All(p => p.device_type == DeviceType.CUDA), "every parameter lives on the GPU");
        var metrics = _ml.MulticlassClassification.Evaluate(_model.Transform(_probe));
        Console.WriteLine($"trained on CUDA: accuracy {metrics.MicroAccuracy:P1} on 100 test images");
        Assert.IsTrue(metrics.MicroAccuracy > 0.4);
    }

    [TestMethod]
    public void SeededScoresOnCudaEqualTheCpuScoresOfTheSameWeights()
    {
        RequireCuda();
        var onGpu = _ml.Data.CreateEnumerable<BayesianPrediction>(_model!.Transform(_probe), reuseRowObject: false).ToList();
        // The same weights on the CPU (the network moved there and back): the draws come from CPU generators on both devices.
        var pixels = TestData.Test.StratifiedHead(10).Pixels;
        var network = _model.Model.Network;
        PredictiveDistribution onCpu;
        network.to(CPU);
        try
        {
            // Not disposed: it shares the transformer's network.
            var cpu = new BayesianImageClassifier(network, 1, 28, 28, _model.Model.ClassNames, _model.Model.NormalizeMean, _model.Model.NormalizeStd, CPU, _model.Report);
            onCpu = cpu.Predict(pixels, _model.Samples, seed: _model.Seed);
        }
        finally
        {
            network.to(CUDA);
        }
        double worst = 0;
        for (int i = 0; i < onGpu.Count; i++)
            for (int c = 0; c < 10; c++) worst = Math.Max(worst, Math.Abs(onGpu[i].Score[c] - onCpu.Row(i)[c]));
        Console.WriteLine($"largest score difference CUDA vs CPU: {worst:E2}");
        Assert.IsTrue(worst < 1e-4, $"CUDA and CPU scores differ by {worst}");
    }

    [TestMethod]
    public void AModelTrainedOnCudaSavesAndScoresOnTheCpu()
    {
        RequireCuda();
        string zip = Path.Combine(TestData.TempFolder(), "cuda.zip");
        var chain = _keys!.Append(_model!);
        var inputSchema = TestData.Test.StratifiedHead(1).ToDataView(_ml).Schema;
        BayesianModel.Save(_ml, chain, inputSchema, zip);
        var expected = _ml.Data.CreateEnumerable<BayesianPrediction>(_model!.Transform(_probe), reuseRowObject: false).ToList();
        var cpuContext = new MLContext(seed: 2);   // no GpuDeviceId: ONNX Runtime on the CPU
        var loaded = BayesianModel.Load(cpuContext, zip, out _);
        var actual = cpuContext.Data.CreateEnumerable<BayesianPrediction>(loaded.Transform(TestData.Test.StratifiedHead(10).ToDataView(cpuContext)), reuseRowObject: false).ToList();
        double worst = expected.Zip(actual).Max(p => p.First.Score.Zip(p.Second.Score, (a, b) => (double)Math.Abs(a - b)).Max());
        Console.WriteLine($"largest score difference in-process CUDA vs saved zip on the CPU: {worst:E2}");
        Assert.IsTrue(worst < 1e-4, $"the saved zip differs from the CUDA scores by {worst}");
    }

    [TestMethod]
    public void PredictionEngineServesOnCudaWithFlatMemory()
    {
        RequireCuda();
        var engine = _ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(_keys!.Append(_model!));
        Input Row(int i) => new() { Pixels = TestData.Test.Image(i % TestData.Test.Count).ToArray() };
        for (int i = 0; i < 1_000; i++) engine.Predict(Row(i));
        long tensors = TestMemory.LiveTensors();
        long? before = GpuMemoryMiB();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 10_000; i++) engine.Predict(Row(i));
        double rate = 10_000 / clock.Elapsed.TotalSeconds;
        long? after = GpuMemoryMiB();
        Console.WriteLine($"10,000 PredictionEngine calls on CUDA: {rate:F0} rows/s; GPU memory of this process {before} -> {after} MiB (nvidia-smi)");
        Assert.AreEqual(tensors, TestMemory.LiveTensors(), "every call's tensors are disposed");
        if (before is long b && after is long a) Assert.IsTrue(a - b <= 64, $"GPU memory grew by {a - b} MiB over 10,000 calls");
    }

    /// <summary>The GPU memory this process holds, from nvidia-smi (null where it cannot be asked).</summary>
    static long? GpuMemoryMiB()
    {
        try
        {
            var start = new ProcessStartInfo("nvidia-smi", "--query-compute-apps=pid,used_memory --format=csv,noheader,nounits") { RedirectStandardOutput = true };
            using var process = Process.Start(start);
            if (process is null) return null;
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            int pid = Environment.ProcessId;
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var parts = line.Split(',');
                if (parts.Length == 2 && int.Parse(parts[0].Trim()) == pid) return long.Parse(parts[1].Trim());
            }
            return null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }
}
