using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Stage 2 alone (SharedPosteriorBuilder.Build, default options) on three inputs, printing seconds per phase:
/// the small CNN's real stage-1 points (one deterministic and one mean-field epoch on the committed subset,
/// cached under artifacts/ so later runs skip the training), synthetic points of the same size and character,
/// and an 11.2M-point synthetic set (ResNet-18's weight count). The real points are nearly constant in
/// log sigma, which is what makes the mixture fit hard; the synthetic ones copy that.
/// </summary>
internal static class PosteriorBuildBenchmark
{
    const int SmallCnnWeights = 105_744, ResNet18Weights = 11_200_000;
    const string Cache = "artifacts/posterior-points/small-cnn.bin";

    public static void Run(bool quick)
    {
        Console.WriteLine($"posterior build: {Environment.ProcessorCount} cores, default SharedPosteriorOptions");
        Time("small CNN, real stage-1 points", RealSmallCnnPoints());
        Time($"synthetic {SmallCnnWeights:N0}", Synthetic(SmallCnnWeights, seed: 1));
        if (!quick) Time($"synthetic {ResNet18Weights:N0}", Synthetic(ResNet18Weights, seed: 2));
    }

    static void Time(string name, IReadOnlyList<PosteriorLayerPoints> layers)
    {
        var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var phases = new BuildPhases();
        var clock = Stopwatch.StartNew();
        var plan = SharedPosteriorBuilder.Build(layers, new SharedPosteriorOptions(), phases);
        double total = clock.Elapsed.TotalSeconds;
        process.Refresh();
        // CPU seconds beside wall seconds: on a shared machine the wall time says as much about the neighbours.
        double cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
        var s = plan.Statistics;
        Console.WriteLine($"{name}: {total:F3} s wall, {cpu:F3} s CPU; {s.Weights:N0} weights, {s.Components} components ({s.ComponentsBeforeMerge} fitted, " +
                          $"{s.DroppedComponents} dropped), {s.Outliers:N0} outliers, {s.EllipseWeights:N0} ellipse weights");
        foreach (var (phase, seconds, calls) in phases.Items)
            Console.WriteLine($"  {phase,-28} {seconds,8:F3} s{(calls > 1 ? $"  ({calls} calls)" : "")}");
    }

    /// <summary>mu ~ N(0, 0.05) clipped to +-0.4; log sigma in the narrow strip -6.62..-6.43 seen in the real points.</summary>
    internal static IReadOnlyList<PosteriorLayerPoints> Synthetic(int count, int seed)
    {
        var rng = new Random(seed);
        var mu = new float[count];
        var sigma = new float[count];
        var grad = new float[count];
        for (int i = 0; i < count; i++)
        {
            mu[i] = (float)Math.Clamp(0.05 * Normal(rng), -0.4, 0.4);
            double logSigma = -6.52 + 0.02 * Normal(rng) + 0.3 * mu[i] * mu[i];
            sigma[i] = (float)Math.Exp(Math.Clamp(logSigma, -6.62, -6.43));
            grad[i] = (float)(-Math.Log(1 - rng.NextDouble()) * (0.01 + Math.Abs(mu[i])));
        }
        return new[] { new PosteriorLayerPoints("synthetic", new long[] { count }, mu, sigma, grad) };
    }

    static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    static IReadOnlyList<PosteriorLayerPoints> RealSmallCnnPoints()
    {
        if (!File.Exists(Cache))
        {
            string subset = Path.Combine("tests", "data", "fashion-mnist-subset");
            var train = FashionMnist.Load(train: true, subset);
            var trainer = new BayesianTrainer(new TrainerOptions { DeterministicEpochs = 1, MeanFieldEpochs = 1, StopAfterMeanField = true, Seed = 1 },
                line => Console.WriteLine($"  {line}"));
            using var classifier = trainer.Fit(ArchitectureFactory.Create(Architecture.SmallCnn), train);
            var points = classifier.Network.PosteriorPoints(null);
            Directory.CreateDirectory(Path.GetDirectoryName(Cache)!);
            using var writer = new BinaryWriter(File.Create(Cache));
            writer.Write(points.Count);
            foreach (var layer in points)
            {
                writer.Write(layer.Name);
                writer.Write(layer.Shape.Length);
                foreach (long d in layer.Shape) writer.Write(d);
                writer.Write(layer.Count);
                foreach (float v in layer.Mu) writer.Write(v);
                foreach (float v in layer.Sigma) writer.Write(v);
            }
        }
        using var reader = new BinaryReader(File.OpenRead(Cache));
        var layers = new List<PosteriorLayerPoints>();
        int layerCount = reader.ReadInt32();
        for (int l = 0; l < layerCount; l++)
        {
            string name = reader.ReadString();
            var shape = new long[reader.ReadInt32()];
            for (int d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
            int n = reader.ReadInt32();
            var mu = new float[n];
            var sigma = new float[n];
            for (int i = 0; i < n; i++) mu[i] = reader.ReadSingle();
            for (int i = 0; i < n; i++) sigma[i] = reader.ReadSingle();
            layers.Add(new PosteriorLayerPoints(name, shape, mu, sigma, null));
        }
        return layers;
    }
}
