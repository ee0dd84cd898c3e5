using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Training.Optimization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>
/// The flat optimisers against TorchSharp's per-tensor ones. Each comparison runs under 1, 2 and 16 intra-op threads:
/// a threaded reduction may round differently from another thread count or memory layout, and Adam turns a rounding
/// difference in a near-zero gradient into a full-size step, so trajectories of two runs are not compared. What is
/// compared is what must agree: the gradients backward writes (to the tolerance of a threaded sum), and the updates
/// the optimisers make from identical gradients (to float rounding). Every step runs in a <see cref="GcPause"/>, as in
/// the trainer: TorchSharp's own optimisers and BatchNorm hand LibTorch temporary Scalars that a collection could free.
/// </summary>
[TestClass]
public sealed class FlatOptimizerTests
{
    const int Steps = 25;
    /// <summary>Two updates of the same numbers by the same operations: float rounding at most.</summary>
    const double UpdateTolerance = 1e-6;
    /// <summary>Gradients summed by threaded kernels, relative to each tensor's largest gradient.</summary>
    const double GradientTolerance = 1e-5;

    /// <summary>A mean-field network (weights, their scales, biases, batch-norm: 18 tensors of several shapes), seeded.</summary>
    static BayesianNetwork MeanFieldNetwork(int seed)
    {
        random.manual_seed(seed);
        var network = new BayesianNetwork(new SmallCnn(1, 12, 12, 4, width1: 4, width2: 8, hidden: 16));
        network.ConvertToMeanField(initialSigma: 1e-2);
        network.train();
        return network;
    }

    static List<Parameter> Trainable(nn.Module module) => module.parameters().Where(p => p.requires_grad).ToList();

    /// <summary>Runs <paramref name="action"/> with LibTorch's intra-op thread count set to <paramref name="threads"/>, then restores it.</summary>
    internal static void WithThreads(int threads, Action action)
    {
        int before = get_num_threads();
        set_num_threads(threads);
        try
        {
            Assert.AreEqual(threads, get_num_threads());
            action();
        }
        finally
        {
            set_num_threads(before);
        }
    }

    /// <summary>Cross-entropy plus KL of one batch; the posterior draw comes from the global generator, seeded per step.</summary>
    static void Backward(BayesianNetwork network, int step)
    {
        using var pause = GcPause.Begin();
        using var scope = NewDisposeScope();
        random.manual_seed(1000 + step);
        var x = randn(8, 1, 12, 12);
        var y = randint(0, 4, new long[] { 8 }, dtype: ScalarType.Int64);
        var loss = nn.functional.cross_entropy(network.call(x), y).Plus(network.KL(1.0) * ScalarSafeOps.Constant(1e-3, x));
        loss.backward();
    }

    /// <summary>Largest |a - b| of two same-shaped tensors relative to a's largest magnitude.</summary>
    static double RelativeDifference(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        double scale = Math.Max(a.abs().max().item<float>(), 1e-30);
        return (a - b).abs().max().item<float>() / scale;
    }

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(16)]
    public void BackwardWritesTheSameGradientsIntoTheFlatBufferAsIntoSeparateTensors(int threads) => WithThreads(threads, () =>
    {
        using var network = MeanFieldNetwork(4);
        using var twin = MeanFieldNetwork(4);
        var flatParameters = Trainable(network);
        var separate = Trainable(twin);
        var names = twin.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        using var optimizer = new FlatAdam(flatParameters, 1e-3);
        double worst = 0;
        int identical = 0;
        for (int step = 0; step < 5; step++)
        {
            optimizer.zero_grad();
            foreach (var p in separate) { using var g = p.grad; g?.zero_(); }
            Backward(network, step);
            Backward(twin, step);
            Assert.AreEqual(0, optimizer.ParametersWhoseGradientMissedTheBuffers().Count, "every gradient landed in the buffer");
            for (int i = 0; i < separate.Count; i++)
            {
                using var a = separate[i].grad!;
                using var b = flatParameters[i].grad!;
                Assert.IsTrue(a.abs().max().item<float>() > 0, $"parameter {i} got a gradient");
                double d = RelativeDifference(a, b);
                if (d > 1e-6) Console.WriteLine($"step {step} parameter {i} {names[i]} {string.Join("x", a.shape)}: relative {d:E2}, max |g| {a.abs().max().item<float>():E2}, mean |g| {a.abs().mean().item<float>():E2}");
                worst = Math.Max(worst, d);
                if (a.eq(b).all().item<bool>()) identical++;
            }
        }
        Console.WriteLine($"{threads} threads: {identical} of {5 * separate.Count} gradients bit-identical, largest relative difference {worst:E2}");
        Assert.IsTrue(worst <= GradientTolerance, $"{threads} threads: {worst:E2}");
    });

    /// <summary>
    /// Steps a reference optimiser and a flat one over two copies of the network's parameters for <see cref="Steps"/> steps,
    /// both under a cosine schedule, giving both the same gradients each step (drawn from the network's own backward at
    /// the reference's current parameters, so they have a realistic spread, zeros included), and returns the largest
    /// difference of any parameter after any step relative to that tensor's largest magnitude.
    /// </summary>
    static double LargestUpdateDifference(Func<IReadOnlyList<Parameter>, optim.Optimizer> reference, Func<IReadOnlyList<Parameter>, optim.Optimizer> flat)
    {
        using var a = MeanFieldNetwork(3);
        using var b = MeanFieldNetwork(3);
        var pa = Trainable(a);
        var pb = Trainable(b);
        var initial = pb.Select(p => p.detach().clone()).ToList();
        using var optA = reference(pa);
        using var optB = flat(pb);
        Assert.IsInstanceOfType<FlatOptimizer>(optB);
        var schedA = optim.lr_scheduler.CosineAnnealingLR(optA, Steps);
        var schedB = optim.lr_scheduler.CosineAnnealingLR(optB, Steps);
        double worst = 0;
        for (int step = 0; step < Steps; step++)
        {
            optA.zero_grad();
            optB.zero_grad();
            Backward(a, step);
            using (var noGrad = no_grad())
                for (int i = 0; i < pa.Count; i++)
                {
                    using var source = pa[i].grad!;
                    using var target = pb[i].grad!;
                    target.copy_(source);
                }
            using (var pause = GcPause.Begin())
            {
                optA.step();
                optB.step();
            }
            schedA.step();
            schedB.step();
            using var noGrad2 = no_grad();
            for (int i = 0; i < pa.Count; i++) worst = Math.Max(worst, RelativeDifference(pa[i], pb[i]));
        }
        CollectionAssert.AreEqual(optA.ParamGroups.Select(g => g.LearningRate).ToArray(), optB.ParamGroups.Select(g => g.LearningRate).ToArray(),
            "the schedule drives both alike, group by group");
        using (var noGrad = no_grad())
            Assert.IsTrue(pb.Zip(initial).All(t => Differs(t.First, t.Second)), "every parameter moved");
        initial.ForEach(t => t.Dispose());
        return worst;
    }

    static void AssertSameUpdates(string what, int threads, Func<IReadOnlyList<Parameter>, optim.Optimizer> reference, Func<IReadOnlyList<Parameter>, optim.Optimizer> flat)
        => WithThreads(threads, () =>
        {
            double worst = LargestUpdateDifference(reference, flat);
            Console.WriteLine($"{what}, {threads} threads: largest relative difference over {Steps} steps from the same gradients {worst:E2}");
            Assert.IsTrue(worst <= UpdateTolerance, $"{what}, {threads} threads: {worst:E2}");
        });

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(16)]
    public void AdamMatchesTorchSharpsAdam(int threads)
        => AssertSameUpdates("Adam", threads, p => optim.Adam(p, 1e-2), p => new FlatAdam(p, 1e-2));

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(16)]
    public void AdamWMatchesTorchSharpsAdamW(int threads)
        => AssertSameUpdates("AdamW", threads, p => optim.AdamW(p, 1e-2, weight_decay: 0.05), p => new FlatAdam(p, 1e-2, weightDecay: 0.05));

    /// <summary>Every other parameter in a second group at 10x the rate (stage 1 trains the scales faster than the means).</summary>
    static List<ParameterGroup> TwoGroups(IReadOnlyList<Parameter> p, double rate) => new()
    {
        new(p.Where((_, i) => i % 2 == 0).ToList(), rate),
        new(p.Where((_, i) => i % 2 == 1).ToList(), 10 * rate),
    };

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(16)]
    public void AdamWithParameterGroupsMatchesTorchSharpsAdamWithParamGroups(int threads)
        => AssertSameUpdates("grouped Adam", threads,
            p => optim.Adam(TwoGroups(p, 1e-2).Select(g => new Adam.ParamGroup(g.Parameters, lr: g.LearningRate)), 1e-2),
            p =>
            {
                var optimizer = new FlatAdam(TwoGroups(p, 1e-2));
                Assert.AreEqual(2, optimizer.Groups.Count, "one set of buffers per group");
                return optimizer;
            });

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(16)]
    public void SgdWithParameterGroupsMatchesTorchSharpsSgdWithParamGroups(int threads)
        => AssertSameUpdates("grouped SGD", threads,
            p => optim.SGD(TwoGroups(p, 1e-2).Select(g => new SGD.ParamGroup(g.Parameters, lr: g.LearningRate, momentum: 0.9)), 1e-2, momentum: 0.9),
            p => new FlatSgd(TwoGroups(p, 1e-2), momentum: 0.9));

    [TestMethod]
    [DataRow(1)]
    [DataRow(2)]
    [DataRow(16)]
    public void SgdWithMomentumMatchesTorchSharpsSgd(int threads)
        => AssertSameUpdates("SGD", threads, p => optim.SGD(p, 1e-2, momentum: 0.9), p => new FlatSgd(p, 1e-2, momentum: 0.9));

    [TestMethod]
    public void TheCosineScheduleScalesEveryGroupFromItsOwnRate()
    {
        var parameters = Enumerable.Range(0, 4).Select(_ => new Parameter(randn(3))).ToList();
        using var optimizer = new FlatAdam(TwoGroups(parameters, 1e-3));
        var schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, 10);
        for (int i = 0; i < 5; i++)
        {
            optimizer.step();
            schedule.step();
        }
        var rates = optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();
        Assert.AreEqual(0.5e-3, rates[0], 1e-9, "half way down the cosine");
        Assert.AreEqual(10 * rates[0], rates[1], 1e-9, "the second group keeps its 10x");
        Assert.ThrowsExactly<ArgumentException>(() => new FlatAdam(new List<ParameterGroup> { new(parameters, 1e-3), new(parameters.Take(1).ToList(), 1e-2) }),
            "a parameter in two groups would be updated twice");
    }

    static bool Differs(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a - b).abs().max().item<float>() > 0;
    }

    static IntPtr Address(Tensor t) => t.storage<float>().data_ptr() + (nint)(t.storage_offset() * sizeof(float));

    [TestMethod]
    public void ParametersAndGradientsAreViewsOfTheFlatBuffersAndBackwardFillsThemInPlace()
    {
        using var network = MeanFieldNetwork(4);
        using var twin = MeanFieldNetwork(4);
        var parameters = Trainable(network);
        using var optimizer = new FlatAdam(parameters, 1e-3);
        var flat = optimizer.Flat;
        Assert.AreEqual(1, flat.Values.Count, "one dtype and device, one buffer");
        var values = flat.Values[0];
        var gradients = flat.Gradients[0];
        Assert.AreEqual(parameters.Sum(p => p.numel()), values.numel());

        using (var noGrad = no_grad())
        {
            long offset = 0;
            foreach (var p in parameters)
            {
                using var grad = p.grad!;
                Assert.AreEqual(Address(values) + (nint)(offset * sizeof(float)), Address(p), "the parameter is a slice of the value buffer");
                Assert.AreEqual(Address(gradients) + (nint)(offset * sizeof(float)), Address(grad), "its gradient is a slice of the gradient buffer");
                Assert.IsTrue(p.requires_grad && p.is_leaf, "packing keeps it a trainable leaf");
                offset += p.numel();
            }
        }

        // Backward accumulates into the slices in place: the buffer holds every gradient, and no parameter's gradient
        // became a tensor of its own (BackwardWritesTheSameGradients... compares the values with separate tensors).
        optimizer.zero_grad();
        Backward(network, 0);
        var first = gradients.clone();
        Assert.IsTrue(first.abs().sum().item<float>() > 0);
        Assert.AreEqual(0, optimizer.ParametersWhoseGradientMissedTheBuffers().Count);
        foreach (var p in parameters)
        {
            using var grad = p.grad!;
            Assert.IsTrue(Address(grad) >= Address(gradients) && Address(grad) < Address(gradients) + (nint)(gradients.numel() * sizeof(float)),
                "backward accumulated in place instead of replacing the gradient");
        }

        // A second backward of the same batch and draw adds the same numbers onto the first.
        Backward(network, 0);
        Assert.IsTrue(gradients.allclose(first * 2, rtol: GradientTolerance, atol: 0), "a second backward accumulates");
        first.Dispose();

        optimizer.zero_grad();
        Assert.AreEqual(0f, gradients.abs().max().item<float>());
        Assert.IsTrue(parameters.All(p => { using var g = p.grad!; return g.abs().max().item<float>() == 0; }), "zero_grad zeroes every gradient and keeps it");

        // The optimiser's update reaches the modules' own parameters.
        Backward(network, 1);
        var before = parameters.Select(p => p.detach().clone()).ToList();
        optimizer.step();
        Assert.IsTrue(parameters.Zip(before).All(t => Differs(t.First, t.Second)), "the step moved every parameter through the buffer");
        before.ForEach(t => t.Dispose());
    }

    [TestMethod]
    public void AGradientThatIsNoLongerAViewOfTheBufferIsFound()
    {
        using var network = MeanFieldNetwork(4);
        var parameters = Trainable(network);
        using var optimizer = new FlatAdam(TwoGroups(parameters, 1e-3));
        optimizer.zero_grad();
        Backward(network, 0);
        Assert.AreEqual(0, optimizer.ParametersWhoseGradientMissedTheBuffers().Count);
        // What LibTorch does when it replaces a gradient instead of accumulating into it: the parameter's .grad is a new tensor.
        var replaced = parameters[3];
        using (var noGrad = no_grad())
        using (var grad = replaced.grad!)
            replaced.grad = grad * 2;
        var missed = optimizer.ParametersWhoseGradientMissedTheBuffers();
        Assert.AreEqual(1, missed.Count);
        Assert.AreEqual(replaced.Handle, missed[0].Handle);
    }

    [TestMethod]
    public void TheTrainerFallsBackToTorchSharpsOptimizerWhenAGradientMissesTheBuffer()
    {
        var small = TestData.Train.StratifiedHead(20);
        var probe = TestData.Test.StratifiedHead(3);
        (float[] Probabilities, List<string> Log) Run(bool flat)
        {
            var options = new TrainerOptions
            {
                DeterministicEpochs = 2, MeanFieldEpochs = 0, BatchSize = 10, Seed = 5, FlatOptimizer = flat, FeatureFitImages = 0,
            };
            var log = new List<string>();
            var trainer = new BayesianTrainer(options, log.Add)
            {
                // The first layer's weight gets a gradient tensor of its own after every backward, scaled so that it matters.
                AfterBackward = network =>
                {
                    var weight = network.parameters().First(p => p.requires_grad);
                    using var noGrad = no_grad();
                    using var grad = weight.grad!;
                    weight.grad = grad * 3;
                },
            };
            using var model = trainer.Fit((c, h, w, k) => new SmallCnn(c, h, w, k), small);
            return (model.Predict(probe.Pixels, 1, seed: 2).Probabilities, log);
        }
        var flat = Run(flat: true);
        var perTensor = Run(flat: false);
        Assert.IsTrue(flat.Log.Any(l => l.Contains("are not in the flat optimiser's buffers") && l.Contains("per-tensor optimiser")),
            "the trainer says so: " + string.Join("\n", flat.Log));
        Assert.IsFalse(perTensor.Log.Any(l => l.Contains("flat optimiser's buffers")));
        float worst = flat.Probabilities.Zip(perTensor.Probabilities).Max(t => Math.Abs(t.First - t.Second));
        Assert.IsTrue(worst <= 1e-5f, $"after the fallback the run follows the replaced gradient as TorchSharp's optimiser does: {worst:E2}");
    }

    [TestMethod]
    public void OneBufferPerDtypeAndDeviceWhateverTheNumberOfTensors()
    {
        // A flat buffer per dtype and device: many tensors, one buffer; two dtypes, two.
        var many = Enumerable.Range(0, 50).Select(i => new Parameter(randn(3, 2))).ToList();
        using (var optimizer = new FlatSgd(many, 0.1))
            Assert.AreEqual(1, optimizer.Flat.Values.Count);
        var mixed = new[] { new Parameter(randn(4)), new Parameter(randn(4, dtype: ScalarType.Float64)), new Parameter(randn(2)) };
        using (var optimizer = new FlatAdam(mixed, 0.1))
        {
            Assert.AreEqual(2, optimizer.Flat.Values.Count);
            CollectionAssert.AreEquivalent(new[] { 6L, 4L }, optimizer.Flat.Values.Select(v => v.numel()).ToArray());
            Assert.IsTrue(mixed.All(p => p.dtype == ScalarType.Float32 || p.dtype == ScalarType.Float64), "packing keeps each parameter's dtype");
        }
    }

    [TestMethod]
    public void EveryStageTrainsOnFlatBuffersWithTheSameResultAsTorchSharpsOptimizers()
    {
        var small = TestData.Train.StratifiedHead(30);
        var probe = TestData.Test.StratifiedHead(5);
        foreach (var kind in new[] { OptimizerKind.Adam, OptimizerKind.Sgd })
        {
            (float[] Probabilities, List<string> Log, List<int> Buffers) Run(bool flat)
            {
                var options = new TrainerOptions
                {
                    DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 2, BatchSize = 32, PredictionSamples = 3, Seed = 11,
                    Optimizer = kind, FlatOptimizer = flat, CosineSchedule = true, RemergeThreshold = 1e3,
                };
                options.SharedPosterior.ComponentBudget = 16;
                options.SharedPosterior.MinMembers = 5;
                var log = new List<string>();
                var buffers = new List<int>();
                var trainer = new BayesianTrainer(options, log.Add)
                {
                    // How many storages the trainable parameters live in once the stage is done: one when they were packed.
                    StageCompleted = (classifier, _) => buffers.Add(Trainable(classifier.Network).Select(p => p.storage<float>().data_ptr()).Distinct().Count()),
                };
                using var model = trainer.Fit((c, h, w, k) => new SmallCnn(c, h, w, k), small);
                return (model.Predict(probe.Pixels, 3, seed: 2).Probabilities, log, buffers);
            }
            var flat = Run(flat: true);
            var perTensor = Run(flat: false);
            Assert.IsTrue(flat.Log.Any(l => l.Contains("re-merged")), "the optimiser was rebuilt after a re-merge: " + string.Join("\n", flat.Log));
            // Stage 0 has one parameter group; stages 1 and 3 two (the scales train at their own rate), each its own buffer.
            CollectionAssert.AreEqual(new[] { 1, 2, 2 }, flat.Buffers, $"{kind}: every stage trained its parameters as views of one buffer per group");
            Assert.IsTrue(perTensor.Buffers.All(b => b > 1), "TorchSharp's optimiser leaves each parameter its own storage");
            Assert.AreEqual(flat.Probabilities.Length, perTensor.Probabilities.Length);
            float worst = flat.Probabilities.Zip(perTensor.Probabilities).Max(t => Math.Abs(t.First - t.Second));
            Console.WriteLine($"{kind}: largest probability difference after all stages {worst:E2}");
            Assert.IsTrue(worst <= 1e-5f, $"{kind}: {worst:E2}");
        }
    }
}
