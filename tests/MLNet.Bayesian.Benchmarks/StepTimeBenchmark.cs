using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Bare training steps (forward, cross-entropy plus the scaled KL for a Bayesian network, backward, the trainer's flat Adam, on one
/// fixed batch). <see cref="Interleaved"/> alternates several networks step by step, so that load from other
/// jobs on a shared machine falls on all of them alike: the robust way to get step-time ratios.
/// <see cref="MedianStepMs"/> times the deterministic small CNN
/// the way eng/pytorch_step_time.py times the same network in PyTorch, so that
/// eng/compare-pytorch-step.sh can print the ratio. Data loading and augmentation are left out of both.
/// </summary>
internal static class StepTimeBenchmark
{
    /// <summary>Median step milliseconds per network, over <paramref name="rounds"/> rounds of one step each (the order rotates every round).</summary>
    public static Dictionary<string, double> Interleaved(IReadOnlyList<(string Name, BayesianNetwork Network)> networks, Tensor x, Tensor y,
        double klScale, int warmup, int rounds)
    {
        var optimizers = networks.Select(n => TrainingOptimizer.Create(OptimizerKind.Adam, n.Network.parameters().Where(p => p.requires_grad).ToList(), 1e-3, flat: true)).ToList();
        var times = networks.Select(_ => new List<double>()).ToList();
        try
        {
            for (int r = 0; r < warmup + rounds; r++)
                for (int i = 0; i < networks.Count; i++)
                {
                    int k = (i + r) % networks.Count;
                    var network = networks[k].Network;
                    network.train();
                    Func<Tensor>? kl = network.Stage == BayesianStage.Deterministic ? null : () => network.KL(1.0);
                    double ms = TimedStep(network, optimizers[k], x, y, kl, klScale);
                    if (r >= warmup) times[k].Add(ms);
                }
        }
        finally
        {
            optimizers.ForEach(o => o.Dispose());
        }
        return networks.Select((n, k) => (n.Name, Median: Median(times[k]))).ToDictionary(t => t.Name, t => t.Median);
    }

    /// <summary>
    /// Median step milliseconds of a deterministic network (seeded weights, one random batch) on <paramref name="device"/>:
    /// the small CNN on 1x28x28 images or ResNet-18 on 3x32x32, 10 classes, as eng/pytorch_step_time.py builds them.
    /// </summary>
    public static double MedianStepMs(Architecture architecture, int batchSize, Device device, int warmup, int steps)
    {
        random.manual_seed(1);
        var (channels, size) = architecture == Architecture.SmallCnn ? (1, 28) : (3, 32);
        using var network = ArchitectureFactory.Create(architecture)(channels, size, size, 10);
        network.to(device);
        network.train();
        using var optimizer = TrainingOptimizer.Create(OptimizerKind.Adam, network.parameters().ToList(), 1e-3, flat: true);
        using var x = randn(batchSize, channels, size, size).to(device);
        using var y = randint(0, 10, new long[] { batchSize }, dtype: ScalarType.Int64).to(device);
        var times = new List<double>();
        for (int i = 0; i < warmup + steps; i++)
        {
            double ms = TimedStep(network, optimizer, x, y, kl: null, klScale: 0);
            if (i >= warmup) times.Add(ms);
        }
        return Median(times);
    }

    /// <summary>The upper median (the middle element of an odd count), as the trainer reports its step times.</summary>
    static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    /// <summary>
    /// Milliseconds of one step: zero the gradients, cross-entropy (plus <paramref name="klScale"/> times the KL when
    /// <paramref name="kl"/> is given), backward, optimiser step, and reading the loss, as PyTorch's side does,
    /// which waits for the step to finish.
    /// </summary>
    static double TimedStep(nn.Module<Tensor, Tensor> network, optim.Optimizer optimizer, Tensor x, Tensor y, Func<Tensor>? kl, double klScale)
    {
        var clock = Stopwatch.StartNew();
        using (GcPause.Begin())
        using (NewDisposeScope())
        {
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(network.call(x), y);
            if (kl is not null)
            {
                var divergence = kl();
                loss = loss.Plus(divergence * ScalarSafeOps.Constant(klScale, divergence));
            }
            loss.backward();
            optimizer.step();
            loss.item<float>();
        }
        return clock.Elapsed.TotalMilliseconds;
    }
}
