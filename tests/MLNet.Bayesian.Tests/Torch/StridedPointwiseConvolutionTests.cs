using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Tests.Torch;

/// <summary>
/// The workaround for oneDNN's SIGFPE in the backward pass of 1x1 strided convolutions (see
/// <see cref="StridedPointwiseConvolution"/>). The first tests show that the workaround computes the same function and
/// gradients as the strided convolution. They use shapes that LibTorch's strided kernel survives, so that they can
/// compare the two.
/// <para>
/// The last tests train with the geometry that crashed on AMD EPYC machines: ResNet-50's 1024 -> 2048 projection. On such
/// a machine, losing the workaround kills the test host, which `.ci/run` counts as a failure.
/// </para>
/// </summary>
[TestClass]
public sealed class StridedPointwiseConvolutionTests
{
    [TestMethod]
    public void OnlyUnpaddedOneByOneKernelsWithAStrideTakeIt()
    {
        Assert.IsTrue(StridedPointwiseConvolution.AppliesTo(new long[] { 1, 1 }, new long[] { 2, 2 }, new long[] { 0, 0 }));
        Assert.IsTrue(StridedPointwiseConvolution.AppliesTo(new long[] { 1, 1 }, new long[] { 1, 2 }, new long[] { 0, 0 }));
        Assert.IsFalse(StridedPointwiseConvolution.AppliesTo(new long[] { 1, 1 }, new long[] { 1, 1 }, new long[] { 0, 0 }), "unit stride");
        Assert.IsFalse(StridedPointwiseConvolution.AppliesTo(new long[] { 3, 3 }, new long[] { 2, 2 }, new long[] { 1, 1 }), "3x3");
        Assert.IsFalse(StridedPointwiseConvolution.AppliesTo(new long[] { 1, 1 }, new long[] { 2, 2 }, new long[] { 1, 1 }), "padded");
    }

    [TestMethod]
    [DataRow(7)]
    [DataRow(8)]
    [DataRow(1)]
    public void SubsampleThenUnitStrideEqualsTheStridedConvolutionWithItsGradients(int size)
    {
        random.manual_seed(5);
        using var scope = NewDisposeScope();
        // No bias: the norm cancels it, so its true gradient is 0 and both roads return only rounding noise (issue 32).
        using var conv = Sequential(Conv2d(64, 128, 1, stride: 2, bias: false), BatchNorm2d(128));
        var x = randn(3, 64, size, size).requires_grad_(true);
        var expected = conv.call(x);
        var gradient = randn_like(expected);
        expected.backward(new[] { gradient });
        var expectedInput = x.grad!.clone();
        var parameters = conv.parameters().ToList();
        var expectedParameters = parameters.Select(p => p.grad!.clone()).ToList();
        x.grad!.zero_();
        parameters.ForEach(p => p.grad!.zero_());

        var actual = StridedPointwiseConvolution.Call(conv, x);
        actual.backward(new[] { gradient });
        CollectionAssert.AreEqual(expected.shape, actual.shape, $"{size}x{size}: ceil({size} / 2) rows and columns");
        Assert.IsTrue(actual.allclose(expected, rtol: 1e-5, atol: 1e-5), "the same output");
        Assert.IsTrue(x.grad!.allclose(expectedInput, rtol: 1e-5, atol: 1e-5), "the same input gradient (every other row and column, zeros elsewhere)");
        for (int i = 0; i < parameters.Count; i++)
            Assert.IsTrue(parameters[i].grad!.allclose(expectedParameters[i], rtol: 1e-4, atol: 1e-5), $"the same gradient for parameter {i}");
    }

    [TestMethod]
    public void TheBayesianConvolutionAtItsMeanComputesTheStridedConvolution()
    {
        random.manual_seed(6);
        using var scope = NewDisposeScope();
        using var net = Sequential(Conv2d(16, 32, 1, stride: 2), ReLU());
        net.eval();
        var x = randn(4, 16, 5, 5);
        var expected = net.call(x);
        var layers = BayesianConversion.ToMeanField(net).Select(l => l.Layer).ToArray();
        Tensor actual, stacked;
        using (WeightContext.Use(layers, new MeanFieldPosterior(layers).Mean())) actual = net.call(x);
        Assert.IsTrue(actual.allclose(expected, rtol: 1e-5, atol: 1e-6));
        // S = 2 draws at once, both at the mean: the grouped form of the same convolution.
        var mean = layers[0].WeightMu!.detach();
        using (WeightContext.Use(layers, new[] { stack(new[] { mean, mean }) }, stacked: 2)) stacked = net.call(cat(new[] { x, x }));
        Assert.IsTrue(stacked.slice(0, 0, 4, 1).allclose(expected, rtol: 1e-5, atol: 1e-6) && stacked.slice(0, 4, 8, 1).allclose(expected, rtol: 1e-5, atol: 1e-6));
    }

    /// <summary>
    /// The crash this works around: a ResNet-50 (28x28 grey images, batch 4) through one training step, and its layer4
    /// projection (1024 -> 2048, 2x2 -> 1x1) made Bayesian, through a backward pass.
    /// </summary>
    [TestMethod]
    public void TheProjectionsThatCrashedOneDnnTrain()
    {
        random.manual_seed(7);
        using var scope = NewDisposeScope();
        using var network = ImageNetResNet.ResNet50(channels: 1, classes: 10);
        network.train();
        var loss = functional.cross_entropy(network.call(randn(4, 1, 28, 28)), tensor(new long[] { 0, 1, 2, 3 }));
        loss.backward();
        var named = network.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.IsTrue(named["layer4.0.downsample.0.weight"].grad!.abs().sum().item<float>() > 0, "the 1024 -> 2048 projection got a gradient");
        Assert.IsTrue(named["conv1.weight"].grad!.isfinite().all().item<bool>());

        using var projection = Sequential(Conv2d(1024, 2048, 1, stride: 2, bias: false));
        var layers = BayesianConversion.ToMeanField(projection).Select(l => l.Layer).ToArray();
        var x = randn(4, 1024, 2, 2).requires_grad_(true);
        using (WeightContext.Use(layers, new MeanFieldPosterior(layers).Draw(NoiseSource.Global))) projection.call(x).square().sum().backward();
        Assert.IsTrue(x.grad!.abs().sum().item<float>() > 0 && layers[0].WeightMu!.grad!.abs().sum().item<float>() > 0);
    }
}
