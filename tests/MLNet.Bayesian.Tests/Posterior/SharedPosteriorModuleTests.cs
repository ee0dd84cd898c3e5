using TorchSharp;
using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Tests.Posterior;

[TestClass]
public sealed class SharedPosteriorModuleTests
{
    static BayesianNetwork MeanFieldNet(int seed)
    {
        random.manual_seed(seed);
        // Tanh rather than ReLU: with weights shared by a few components an untrained ReLU net can be
        // entirely dead for one draw, which would hide the gradient path under test.
        var net = new BayesianNetwork(Sequential(
            Conv2d(1, 8, 3, padding: 1), BatchNorm2d(8), Tanh(), MaxPool2d(2), Flatten(), Linear(8 * 4 * 4, 16), Tanh(), Linear(16, 3)));
        net.ConvertToMeanField(1e-2);
        // Spread sigma so the plane has structure, as after stage-1 training.
        using (no_grad())
            foreach (var (_, layer) in net.Layers) layer.WeightRho!.add_(randn_like(layer.WeightRho!) * 0.5);
        return net;
    }

    static SharedPosteriorPlan Plan(BayesianNetwork net)
    {
        var grads = net.Layers.Select(l => { using var g = rand_like(l.Layer.WeightMu!); return g.data<float>().ToArray(); }).ToList();
        return SharedPosteriorBuilder.Build(net.PosteriorPoints(grads), new SharedPosteriorOptions { ComponentBudget = 8, MinMembers = 5, MuThreshold = 0.25 });
    }

    [TestMethod]
    [DataRow(SamplingVariant.Shared)]
    [DataRow(SamplingVariant.Hierarchical)]
    public void GradientReachesEveryVariationalParameterAndAStepMovesThem(SamplingVariant variant)
    {
        using var net = MeanFieldNet(5);
        var plan = Plan(net);
        Assert.IsTrue(plan.OutlierPositions.Length > 0 && plan.EllipsePositions.Length > 0 && plan.Components.Length > 1,
            $"the case covers every kind of weight: {plan.Statistics}");
        var posterior = new SharedPosterior(plan, variant);
        net.UseSharedPosterior(posterior);
        net.train();
        using var x = randn(6, 1, 8, 8);
        using var y = tensor(new long[] { 0, 1, 2, 0, 1, 2 });
        using var loss = functional.cross_entropy(net.call(x), y) + posterior.KL() / 1000;
        loss.backward();

        // The likelihood drives the weight coordinate (mean column 0, l11) in both variants; the hierarchical
        // variant also uses the log-scale draw, so every Cholesky entry and the second mean column. (At the
        // start q equals the empirical-Bayes prior, so the KL adds no gradient of its own.)
        var driven = new List<(string Name, Tensor Grad)>
        {
            ("mean[:,0]", posterior.ComponentsMean.grad![.., 0]), ("l11", posterior.ComponentsCholesky.grad![.., 0]),
            ("outliers_mu", posterior.OutliersMu.grad!), ("outliers_rho", posterior.OutliersRho.grad!),
        };
        if (variant == SamplingVariant.Hierarchical)
            driven.AddRange(new[] { ("log-scale mean", posterior.ComponentsLogScale!.grad!),
                ("l21", posterior.ComponentsCholesky.grad![.., 1]), ("l22", posterior.ComponentsCholesky.grad![.., 2]) });
        foreach (var (name, grad) in driven)
        {
            long zeros = (grad == 0).sum().item<long>();
            Assert.AreEqual(0L, zeros, $"{name}: {zeros} of {grad.numel()} entries have no gradient");
        }
        var after = new List<Tensor> { posterior.ComponentsMean, posterior.ComponentsCholesky, posterior.OutliersMu, posterior.OutliersRho };
        if (posterior.ComponentsLogScale is { } logScale) after.Add(logScale);
        var before = after.Select(p => p.clone()).ToArray();
        using var optimizer = optim.Adam(net.parameters(), 1e-3);
        optimizer.step();
        for (int i = 0; i < after.Count; i++)
            Assert.IsFalse(before[i].allclose(after[i], rtol: 0, atol: 0), $"parameter {i} moved");
    }

    [TestMethod]
    public void WeightsRebuiltFromTheIndexEqualTheGatheredValues()
    {
        using var net = MeanFieldNet(6);
        var plan = Plan(net);
        using var posterior = new SharedPosterior(plan, SamplingVariant.Shared);
        random.manual_seed(42);
        var weights = posterior.Draw(NoiseSource.Global);
        var flat = cat(weights.Select(w => w.flatten()).ToArray()).detach().data<float>().ToArray();

        // Replay the same draw by hand from the parameters.
        random.manual_seed(42);
        using var eps = randn(plan.Components.Length, 2);
        using var epsOut = randn(plan.OutlierPositions.Length);
        // The shared variant trains only the weight coordinate: m_k[0] and log l11, one column each.
        Assert.AreEqual(1L, posterior.ComponentsMean.shape[1]);
        Assert.AreEqual(1L, posterior.ComponentsCholesky.shape[1]);
        var m = posterior.ComponentsMean.detach().data<float>().ToArray();
        var l = posterior.ComponentsCholesky.detach().data<float>().ToArray();
        var e = eps.data<float>().ToArray();
        var z0 = Enumerable.Range(0, plan.Components.Length).Select(k => m[k] + Math.Exp(l[k]) * e[2 * k]).ToArray();
        var outlierSigma = posterior.OutliersRho.detach().data<float>().ToArray().Select(r => Math.Log(1 + Math.Exp(r)) + StochasticLayer.SigmaFloor).ToArray();
        var eo = epsOut.data<float>().ToArray();
        var outlierPos = plan.OutlierPositions.Select((p, i) => (p, i)).ToDictionary(t => t.p, t => t.i);
        var ellipsePos = plan.EllipsePositions.Select((p, i) => (p, i)).ToDictionary(t => t.p, t => t.i);
        for (int p = 0; p < flat.Length; p++)
        {
            double expected;
            if (outlierPos.TryGetValue(p, out int o)) expected = plan.OutlierMu[o] + outlierSigma[o] * eo[o];
            else if (ellipsePos.TryGetValue(p, out int b))
                expected = plan.EllipseAlphaFirst[b] * z0[plan.EllipseFirst[b]] + plan.EllipseAlphaSecond[b] * z0[plan.EllipseSecond[b]];
            else expected = z0[plan.ComponentOf(p)];
            Assert.AreEqual(expected, flat[p], 1e-5, $"weight {p}");
        }
        // Weights of one component share one value in the shared variant.
        int inlier = Enumerable.Range(0, flat.Length).First(p => !outlierPos.ContainsKey(p) && !ellipsePos.ContainsKey(p));
        int k0 = plan.ComponentOf(inlier);
        var sameComponent = Enumerable.Range(0, flat.Length).Where(p => !outlierPos.ContainsKey(p) && !ellipsePos.ContainsKey(p) && plan.ComponentOf(p) == k0);
        Assert.IsTrue(sameComponent.All(p => flat[p] == flat[inlier]));
    }

    /// <summary>
    /// Hierarchical draws read all five numbers of a component; shared draws read two (m_k[0], l11), and the other
    /// three are fixed buffers rather than parameters that only the KL would move: the count says what training changes.
    /// </summary>
    [TestMethod]
    [DataRow(SamplingVariant.Hierarchical, 5)]
    [DataRow(SamplingVariant.Shared, 2)]
    public void TrainableCountIsWhatADrawReadsPerComponentPlusTwoPerOutlierPlusDeterministic(SamplingVariant variant, int perComponent)
    {
        using var net = MeanFieldNet(7);
        long deterministic = net.Layers.Sum(l => l.Layer.Bias?.numel() ?? 0)
            + net.parameters().Where(p => p.requires_grad).Sum(p => p.numel())
            - net.Layers.Sum(l => l.Layer.WeightMu!.numel() + l.Layer.WeightRho!.numel() + (l.Layer.Bias?.numel() ?? 0));
        var plan = Plan(net);
        var posterior = new SharedPosterior(plan, variant);
        net.UseSharedPosterior(posterior);
        Assert.AreEqual((long)perComponent * plan.Components.Length + 2L * plan.OutlierPositions.Length + deterministic, net.TrainableParameterCount);
        Assert.IsFalse(net.named_parameters().Any(p => p.name.EndsWith("weight_mu")));
        // Freezing keeps the fixed numbers: the components are still stage 2's fit, all five numbers of each.
        var current = posterior.CurrentComponents();
        for (int k = 0; k < plan.Components.Length; k++)
        {
            Assert.AreEqual(plan.Components[k].My, current[k].My, 1e-5 * Math.Abs(plan.Components[k].My), $"component {k}: log-sigma mean");
            Assert.AreEqual(plan.Components[k].Syy, current[k].Syy, 1e-4 * plan.Components[k].Syy, $"component {k}: log-sigma variance");
        }
    }

    /// <summary>
    /// The prior's variance floors hold in original units: the KL at the start (q = stage 2's fit) is the KL from the fit
    /// to the floored fit, and it stays bounded however narrow the fit is.
    /// </summary>
    [TestMethod]
    public void PriorVarianceFloorsMakeThePriorBroaderThanTheFit()
    {
        using var net = MeanFieldNet(12);
        var plan = Plan(net);
        var floors = new PriorVarianceFloors(Weight: 1e-4, LogSigma: 1e-2);
        using var posterior = new SharedPosterior(plan, SamplingVariant.Shared, SharedPrior.EmpiricalBayes, 1.0, null, floors);
        double expected = plan.Components.Sum(g => Gaussian2.KL(g, floors.Apply(g)));
        expected += plan.OutlierSigma.Sum(s =>
        {
            double s0 = Math.Max(s, Math.Sqrt(floors.Weight));
            return Math.Log(s0 / s) + s * (double)s / (2 * s0 * s0) - 0.5;
        });
        Assert.IsTrue(expected > 1, $"the floors broaden the prior: {expected}");
        Assert.AreEqual(expected, posterior.KL().item<float>(), 1e-3 * expected);
        foreach (var g in plan.Components.Select(floors.Apply))
        {
            Assert.IsTrue(g.Sxx >= floors.Weight && g.Syy >= floors.LogSigma && g.Det > 0, g.ToString());
        }
    }

    [TestMethod]
    public void KLMatchesTheDoubleClosedForm()
    {
        using var net = MeanFieldNet(8);
        var plan = Plan(net);
        using var posterior = new SharedPosterior(plan, SamplingVariant.Shared);
        Assert.AreEqual(0, posterior.KL().item<float>(), 1e-3, "q starts at the empirical-Bayes prior");
        random.manual_seed(3);
        using (no_grad())
        {
            // Every coordinate moves by its own amount, so no term can cancel or hide in a shared constant.
            posterior.ComponentsMean.add_(randn_like(posterior.ComponentsMean) * 0.01f);
            posterior.ComponentsCholesky.add_(randn_like(posterior.ComponentsCholesky) * 0.5f);
            posterior.OutliersMu.add_(randn_like(posterior.OutliersMu) * 0.002f);
            posterior.OutliersRho.add_(randn_like(posterior.OutliersRho) * 0.1f);
        }
        var q = posterior.CurrentComponents();
        double components = q.Select((g, k) => Gaussian2.KL(g, plan.Components[k])).Sum();
        var sigma = posterior.OutliersRho.detach().data<float>().ToArray().Select(r => Math.Log(1 + Math.Exp(r)) + StochasticLayer.SigmaFloor).ToArray();
        var mu = posterior.OutliersMu.detach().data<float>().ToArray();
        double outliers = mu.Select((m, o) =>
        {
            double s0 = plan.OutlierSigma[o], m0 = plan.OutlierMu[o];
            return Math.Log(s0 / sigma[o]) + (sigma[o] * sigma[o] + (m - m0) * (m - m0)) / (2 * s0 * s0) - 0.5;
        }).Sum();
        Console.WriteLine($"KL of the components {components:F3}, of the outliers {outliers:F3}");
        double expected = components + outliers;
        // Each part is far above the tolerance, so an error in either one fails the test.
        double tolerance = Math.Max(1e-3, 1e-4 * expected);
        Assert.IsTrue(components > 100 * tolerance && outliers > 100 * tolerance, $"both parts moved away from the prior: components {components}, outliers {outliers}");
        Assert.AreEqual(expected, posterior.KL().item<float>(), tolerance);
    }

    [TestMethod]
    public void ZeroMeanPriorKLMatchesTheClosedForm()
    {
        using var net = MeanFieldNet(10);
        var plan = Plan(net);
        using var posterior = new SharedPosterior(plan, SamplingVariant.Shared, SharedPrior.ZeroMean, priorSigma: 0.5);
        var q = posterior.CurrentComponents();
        double expected = q.Select((g, k) => Gaussian2.KL(g, new Gaussian2(0, plan.Components[k].My, 0.25, 0, plan.Components[k].Syy))).Sum();
        var sigma = posterior.OutliersRho.detach().data<float>().ToArray().Select(r => Math.Log(1 + Math.Exp(r)) + StochasticLayer.SigmaFloor).ToArray();
        var mu = posterior.OutliersMu.detach().data<float>().ToArray();
        expected += mu.Select((m, o) => Math.Log(0.5 / sigma[o]) + (sigma[o] * sigma[o] + m * m) / (2 * 0.25) - 0.5).Sum();
        Assert.AreEqual(expected, posterior.KL().item<float>(), 1e-3 * Math.Abs(expected));
    }

    [TestMethod]
    public void SixteenBitIndexAboveTwoHundredFiftySixComponents()
    {
        var rng = new Random(1);
        var mu = Enumerable.Range(0, 30_000).Select(i => (float)((i % 300) * 1e-3 + rng.NextDouble() * 1e-5)).ToArray();
        var sigma = mu.Select(_ => (float)Math.Exp(-5 + rng.NextDouble() * 1e-3)).ToArray();
        var plan = SharedPosteriorBuilder.Build(new[] { new PosteriorLayerPoints("w", new long[] { mu.Length }, mu, sigma, null) },
            new SharedPosteriorOptions { ComponentBudget = 300, MinMembers = 20, OutlierQuantile = 0, GradientFraction = 0, MergeThreshold = 0,
                // The points' log sigma is flat on purpose (only mu has structure); without the absolute log-sigma floor the
                // mixture resolves the 300 mu clusters within 5 EM iterations, which is what this index test needs.
                Mixture = new MixtureFitOptions { MaxIterations = 5, AbsoluteLogSigmaVarianceFloor = 0 } });
        Assert.IsTrue(plan.Components.Length > 256, $"{plan.Components.Length} components");
        Assert.IsInstanceOfType<ushort[]>(plan.CompactComponentIndex);
    }

    [TestMethod]
    public void RemergeBetweenEpochsJoinsComponentsThatTrainingBroughtTogether()
    {
        using var net = MeanFieldNet(9);
        var plan = Plan(net);
        var posterior = new SharedPosterior(plan, SamplingVariant.Hierarchical);
        net.UseSharedPosterior(posterior);
        Assert.IsNull(posterior.Remerge(1e-12), "nothing is that close right after fitting");
        using (no_grad())
        {
            // Training moved component 1 onto component 0.
            posterior.ComponentsMean[1].copy_(posterior.ComponentsMean[0]);
            posterior.ComponentsLogScale![1].copy_(posterior.ComponentsLogScale[0]);
            posterior.ComponentsCholesky[1].copy_(posterior.ComponentsCholesky[0]);
        }
        var merged = posterior.Remerge(1e-12);
        Assert.IsNotNull(merged);
        Assert.AreEqual(plan.Components.Length - 1, merged.Plan.Components.Length);
        Assert.AreEqual(plan.MemberCounts[0] + plan.MemberCounts[1], merged.Plan.MemberCounts[0], "the merged component holds both sets of members");
        Assert.AreEqual(plan.WeightCount - plan.OutlierPositions.Length, merged.Plan.MemberCounts.Sum(), "every inlier is still assigned");
        Assert.IsTrue(merged.Plan.GatherIndex().All(i => i >= 0 && i < merged.Plan.Components.Length + merged.Plan.OutlierPositions.Length + merged.Plan.EllipsePositions.Length));
        long before = net.TrainableParameterCount;
        net.ReplaceSharedPosterior(merged);
        Assert.AreEqual(before - 5, net.TrainableParameterCount, $"names: {string.Join(",", net.named_parameters().Select(p => p.name).Where(n => n.StartsWith("posterior")))}");
        using var x = randn(2, 1, 8, 8);
        using var y = net.call(x);
        Assert.IsTrue(y.isfinite().all().item<bool>());
    }
    /// <summary>
    /// Moving a trained network (the GPU test moves a CUDA model to the CPU) must move every tensor a draw reads:
    /// the posterior's parameters and its prior and index buffers. A dtype change takes the same path as a device change.
    /// </summary>
    [TestMethod]
    [DataRow(SamplingVariant.Shared)]
    [DataRow(SamplingVariant.Hierarchical)]
    public void MovingTheNetworkMovesEveryTensorADrawReads(SamplingVariant variant)
    {
        using var net = MeanFieldNet(11);
        net.UseSharedPosterior(new SharedPosterior(Plan(net), variant));
        net.to(ScalarType.Float64);
        using (var draw = net.Draw(seed: 1, sample: 0))
            Assert.IsTrue(draw.Weights.All(w => w.dtype == ScalarType.Float64), "every drawn weight follows the network's dtype");
        using var x = randn(2, 1, 8, 8, dtype: ScalarType.Float64);
        using (var draw = net.Draw(seed: 1, sample: 0))
        using (var y = net.Forward(x, draw))
            Assert.AreEqual(ScalarType.Float64, y.dtype);
        using var kl = net.KL(1.0);
        Assert.AreEqual(ScalarType.Float64, kl.dtype, "the KL reads the moved prior buffers");
    }
}
