// Benchmarks of MLNet.Bayesian. So far: persistence (saved-model bytes, ONNX against TorchSharp throughput).
//   dotnet run -c Release --project tests/MLNet.Bayesian.Benchmarks -- [--quick] --out <dir>
using System.Text.Json;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Benchmarks;
using MLNet.Bayesian.Data;

bool quick = args.Contains("--quick");
int outIndex = Array.IndexOf(args, "--out");
string outDir = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine("artifacts", "benchmarks");
Directory.CreateDirectory(outDir);
string subset = Path.Combine("tests", "data", "fashion-mnist-subset");
var train = FashionMnist.Load(train: true, subset);
var probe = FashionMnist.Load(train: false, subset);
if (quick) { train = train.StratifiedHead(30); probe = probe.StratifiedHead(20); }

var samples = quick ? new[] { 1, 10 } : new[] { 1, 10, 30 };
var architectures = quick ? new[] { Architecture.SmallCnn } : new[] { Architecture.SmallCnn, Architecture.ResNet20 };
Console.WriteLine($"persistence: {train.Count} training images, {probe.Count} scored, threads {Environment.ProcessorCount}");
var rows = PersistenceBenchmark.Run(train, probe, architectures, samples, quick ? 1 : 3, outDir);

var lines = new List<string>
{
    $"| architecture | S | saved zip bytes | deterministic float32 | mean-field float32 | zip / mean-field | TorchSharp img/s | ONNX img/s | ONNX / TorchSharp |",
    "|---|---|---|---|---|---|---|---|---|",
};
lines.AddRange(rows.Select(r => $"| {r.Architecture} | {r.Samples} | {r.ZipBytes:N0} | {r.DeterministicBytes:N0} | {r.MeanFieldBytes:N0} | " +
    $"{100.0 * r.ZipBytes / r.MeanFieldBytes:F1}% | {r.TorchImagesPerSecond:F0} | {r.OnnxImagesPerSecond:F0} | {r.OnnxImagesPerSecond / r.TorchImagesPerSecond:F2} |"));
File.WriteAllLines(Path.Combine(outDir, "persistence.md"), lines);
File.WriteAllText(Path.Combine(outDir, "persistence.json"), JsonSerializer.Serialize(new { date = DateTime.UtcNow, quick, rows }, new JsonSerializerOptions { WriteIndented = true }));
lines.ForEach(Console.WriteLine);
