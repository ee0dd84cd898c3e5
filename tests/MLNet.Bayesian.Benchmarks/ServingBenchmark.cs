using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Serving one model two ways, measured one after the other in one run: in memory (TorchSharp, the fitted
/// transformer) and loaded from its zip (ONNX Runtime). For each: PredictionEngine rows per second over many calls
/// with resident memory before and after and the full collections in between, four threads with an engine each,
/// and Transform + enumeration of a batch of rows.
/// </summary>
internal static class ServingBenchmark
{
    public sealed record Row(string Model, int Samples, int Calls, double EngineRowsPerSecond, double ResidentBeforeMb, double ResidentAfterMb,
        int FullCollections, double FourThreadsRowsPerSecond, double TransformRowsPerSecond, IReadOnlyList<double> ResidentEveryTenthMb);

    public sealed class Input
    {
        [VectorType(784)] public float[] Pixels { get; set; } = new float[784];
        public string Label { get; set; } = "";
    }

    public static List<Row> Run(ImageSet train, ImageSet probe, int samples, int epochs, int calls, string outDir, int? gpuDeviceId = null)
    {
        // On a GPU the in-memory model trains and scores on CUDA; the loaded one runs ONNX Runtime on the CPU.
        var ml = new MLContext(seed: 1) { GpuDeviceId = gpuDeviceId, FallbackToCpu = false };
        var view = train.ToDataView(ml);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
        var classifier = ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            DeterministicEpochs = epochs, MeanFieldEpochs = 1, SharedEpochs = 1, PredictionSamples = samples,
        }).Fit(keys.Transform(view));
        var inMemory = keys.Append(classifier);
        string zip = Path.Combine(outDir, "serving.zip");
        ml.Model.Save(inMemory, view.Schema, zip);
        var loaded = BayesianModel.Load(new MLContext(seed: 1), zip, out _);

        var rows = new List<Row>();
        foreach (var (name, model) in new[] { ("in memory (TorchSharp)", (ITransformer)inMemory), ("loaded from zip (ONNX Runtime)", loaded) })
        {
            var engine = ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(model);
            // Warm-up: the first calls grow LibTorch's and ONNX Runtime's caches (about 70 MB in memory, measured), then it stays flat.
            for (int i = 0; i < Math.Min(2_000, calls); i++) engine.Predict(Image(probe, i));
            double before = Resident();
            int gen2 = GC.CollectionCount(2);
            var clock = Stopwatch.StartNew();
            // Resident memory is read (without a collection, which would count as one) after every tenth of the calls.
            var resident = new List<double>();
            for (int i = 0; i < calls; i++)
            {
                engine.Predict(Image(probe, i));
                if ((i + 1) % Math.Max(1, calls / 10) == 0) resident.Add(WorkingSetMb());
            }
            double engineRate = calls / clock.Elapsed.TotalSeconds;
            int collections = GC.CollectionCount(2) - gen2;
            double after = Resident();

            clock.Restart();
            var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
            {
                var own = ml.Model.CreatePredictionEngine<Input, BayesianPrediction>(model);
                for (int k = 0; k < calls / 4; k++) own.Predict(Image(probe, 4 * k + t));
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            double threaded = 4 * (calls / 4) / clock.Elapsed.TotalSeconds;

            clock.Restart();
            int scored = ml.Data.CreateEnumerable<BayesianPrediction>(model.Transform(probe.ToDataView(ml)), reuseRowObject: false).Count();
            double transform = scored / clock.Elapsed.TotalSeconds;

            rows.Add(new Row(name, samples, calls, engineRate, before, after, collections, threaded, transform, resident));
            Console.WriteLine($"  {name}: PredictionEngine {engineRate:F0} rows/s over {calls:N0} calls, resident {before:F0} -> {after:F0} MB " +
                              $"(every tenth: {string.Join(", ", resident.Select(r => r.ToString("F0")))}), {collections} full collections; " +
                              $"4 threads {threaded:F0} rows/s; Transform {transform:F0} rows/s");
        }
        (inMemory as IDisposable)?.Dispose();
        (loaded as IDisposable)?.Dispose();
        File.Delete(zip);

        var lines = new List<string>
        {
            $"Serving one SmallCnn 2DGBNN (shared variant, S = {samples}) trained on {train.Count} images; {Environment.ProcessorCount} cores; " +
            $"in-memory device {(gpuDeviceId is null ? "cpu" : "cuda")}; one run.",
            "",
            "| model | PredictionEngine rows/s | calls | resident MB before -> after (after each tenth of the calls) | full collections | 4 threads rows/s | Transform rows/s |",
            "|---|---|---|---|---|---|---|",
        };
        lines.AddRange(rows.Select(r => $"| {r.Model} | {r.EngineRowsPerSecond:F0} | {r.Calls:N0} | {r.ResidentBeforeMb:F0} -> {r.ResidentAfterMb:F0} " +
                                        $"({string.Join(", ", r.ResidentEveryTenthMb.Select(m => m.ToString("F0")))}) | " +
                                        $"{r.FullCollections} | {r.FourThreadsRowsPerSecond:F0} | {r.TransformRowsPerSecond:F0} |"));
        lines.Add("");
        lines.Add($"Loaded / in memory: PredictionEngine {rows[1].EngineRowsPerSecond / rows[0].EngineRowsPerSecond:F2}x, " +
                  $"Transform {rows[1].TransformRowsPerSecond / rows[0].TransformRowsPerSecond:F2}x.");
        File.WriteAllLines(Path.Combine(outDir, "serving.md"), lines);
        File.WriteAllText(Path.Combine(outDir, "serving.json"), JsonSerializer.Serialize(new { date = DateTime.UtcNow, rows }, new JsonSerializerOptions { WriteIndented = true }));
        lines.ForEach(Console.WriteLine);
        return rows;
    }

    static Input Image(ImageSet set, int i) => new() { Pixels = set.Image(i % set.Count).ToArray() };

    static double WorkingSetMb()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 / 1e6;
    }

    static double Resident()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64 / 1e6;
    }
}
