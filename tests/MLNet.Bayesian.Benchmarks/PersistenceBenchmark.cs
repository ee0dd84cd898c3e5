using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Saved-model size against deterministic and mean-field float32 weights, and scoring throughput of the
/// exported ONNX graph against TorchSharp at several S, measured one after the other in one run.
/// </summary>
internal static class PersistenceBenchmark
{
    public sealed record Row(string Architecture, int Samples, long ZipBytes, long DeterministicBytes, long MeanFieldBytes,
        double TorchImagesPerSecond, double OnnxImagesPerSecond);

    public static List<Row> Run(ImageSet train, ImageSet probe, IEnumerable<Architecture> architectures, int[] samples, int epochs, string outDir)
    {
        var rows = new List<Row>();
        foreach (var architecture in architectures)
        {
            var ml = new MLContext(seed: 1);
            var view = train.ToDataView(ml);
            var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view);
            foreach (int s in samples)
            {
                using var model = ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
                {
                    ImageColumnName = "Pixels", ImageChannels = train.Channels, ImageHeight = train.Height, ImageWidth = train.Width, VectorPixelScale = 1,
                    Architecture = architecture, DeterministicEpochs = epochs, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 64,
                    PredictionSamples = s, Variant = SamplingVariant.Shared,
                }).Fit(keys.Transform(view));
                string zip = Path.Combine(outDir, $"{architecture}-S{s}.zip");
                ml.Model.Save(model, view.Schema, zip);
                long weights = model.Report.BayesianWeights;

                var clock = Stopwatch.StartNew();
                model.Model.Predict(probe.Pixels, s, batchSize: 250, seed: 1);
                double torch = probe.Count / clock.Elapsed.TotalSeconds;

                byte[] onnx = BayesianOnnxExport.Export(model.Model, s, 1);
                using var session = new InferenceSession(onnx, new SessionOptions { IntraOpNumThreads = Environment.ProcessorCount });
                clock.Restart();
                for (int start = 0; start < probe.Count; start += 250)
                {
                    int n = Math.Min(250, probe.Count - start);
                    var input = new DenseTensor<float>(probe.Pixels.AsMemory(start * probe.ImageSize, n * probe.ImageSize), new[] { n, probe.Channels, probe.Height, probe.Width });
                    using var _ = session.Run(new[] { NamedOnnxValue.CreateFromTensor("pixels", input) });
                }
                double onnxRate = probe.Count / clock.Elapsed.TotalSeconds;
                rows.Add(new Row(architecture.ToString(), s, new FileInfo(zip).Length, 4 * weights, 8 * weights, torch, onnxRate));
                Console.WriteLine($"  {architecture} S={s}: zip {new FileInfo(zip).Length:N0} B, TorchSharp {torch:F0} img/s, ONNX {onnxRate:F0} img/s");
            }
        }
        return rows;
    }
}
