using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Tests.Layers;

[TestClass]
public sealed class ConversionTests
{
    /// <summary>A user's own module: fields typed as Module, a nested Sequential, a norm layer.</summary>
    sealed class UserNet : Module<Tensor, Tensor>
    {
        readonly Module<Tensor, Tensor> conv = Conv2d(1, 4, 3, padding: 1);
        readonly Module<Tensor, Tensor> norm = BatchNorm2d(4);
        readonly Sequential head = Sequential(Flatten(), Linear(4 * 6 * 6, 8), ReLU(), Linear(8, 3));
        public UserNet() : base(nameof(UserNet)) => RegisterComponents();
        public override Tensor forward(Tensor x) => head.call(functional.relu(norm.call(conv.call(x))));
    }

    sealed class RigidNet : Module<Tensor, Tensor>
    {
        readonly Conv2d conv = Conv2d(1, 2, 3);
        public RigidNet() : base(nameof(RigidNet)) => RegisterComponents();
        public override Tensor forward(Tensor x) => conv.call(x);
    }

    [TestMethod]
    public void UserModuleConvertsAndKeepsItsOutputAtTheMean()
    {
        random.manual_seed(3);
        using var net = new UserNet();
        net.eval();
        using var x = randn(2, 1, 6, 6);
        using var before = net.call(x);
        var layers = BayesianConversion.ToMeanField(net, initialSigma: 1e-3);
        CollectionAssert.AreEqual(new[] { "conv", "head.1", "head.3" }, layers.Select(l => l.Name).ToArray());
        var modules = layers.Select(l => l.Layer).ToArray();
        var posterior = new MeanFieldPosterior(modules);
        var noDraw = Assert.ThrowsExactly<InvalidOperationException>(() => net.call(x));
        StringAssert.Contains(noDraw.Message, "BayesianNetwork", "a layer called outside a draw says how to call it");
        Tensor after;
        using (WeightContext.Use(modules, posterior.Mean())) after = net.call(x);
        Assert.IsTrue(before.allclose(after, rtol: 1e-5, atol: 1e-6), "at sigma's mean the converted network computes the same function");

        var names = net.named_parameters().Select(p => p.name).ToList();
        CollectionAssert.Contains(names, "conv.weight_mu");
        CollectionAssert.Contains(names, "conv.weight_rho");
        CollectionAssert.Contains(names, "head.1.bias");
        CollectionAssert.Contains(names, "norm.weight", "normalisation stays deterministic");
        Assert.IsFalse(names.Contains("conv.weight"));
        Assert.AreEqual(1e-3, layers[0].Layer.WeightSigma().mean().item<float>(), 1e-6);

        Tensor sampled;
        using (WeightContext.Use(modules, posterior.Draw(NoiseSource.Global))) sampled = net.call(x);
        Assert.IsFalse(before.allclose(sampled, rtol: 0, atol: 0), "sampling perturbs the weights");
    }

    [TestMethod]
    public void FieldTypedAsConv2dGivesAClearError()
    {
        using var net = new RigidNet();
        var e = Assert.ThrowsExactly<NotSupportedException>(() => BayesianConversion.ToMeanField(net));
        StringAssert.Contains(e.Message, "RigidNet.conv");
        StringAssert.Contains(e.Message, "Module<Tensor, Tensor>");
    }

    [TestMethod]
    public void MeanFieldKLMatchesTheClosedFormByHand()
    {
        using var net = Sequential(Linear(1, 1, hasBias: false));
        var layer = BayesianConversion.ToMeanField(net, initialSigma: 0.5)[0].Layer;
        using (no_grad()) layer.WeightMu!.fill_(0.3);
        double sigma = layer.WeightSigma().item<float>();
        double expected = Math.Log(2.0 / sigma) + (sigma * sigma + 0.09) / (2 * 4) - 0.5;
        Assert.AreEqual(expected, layer.KLToZeroMeanPrior(2.0).item<float>(), 1e-5);
    }

    [TestMethod]
    public void ConversionInsideADisposeScopeKeepsTheNewParametersAlive()
    {
        using var net = Sequential(Linear(4, 3));
        IReadOnlyList<(string Name, StochasticLayer Layer)> layers;
        using (NewDisposeScope()) layers = BayesianConversion.ToMeanField(net);
        Assert.AreEqual(2, net.parameters().Count(p => p.numel() == 12), "weight_mu and weight_rho survive the scope");
        var modules = layers.Select(l => l.Layer).ToArray();
        Tensor y;
        using (WeightContext.Use(modules, new MeanFieldPosterior(modules).Draw(NoiseSource.Global))) y = net.call(ones(1, 4));
        Assert.IsTrue(y.isfinite().all().item<bool>());
    }
}
