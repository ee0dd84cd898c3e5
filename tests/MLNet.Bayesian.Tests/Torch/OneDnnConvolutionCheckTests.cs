using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Torch;

/// <summary>
/// The oneDNN check (see <see cref="OneDnnConvolutionCheck"/>). On a machine where oneDNN computes wrong convolution
/// gradients, these tests fail when the check is missing. Elsewhere they hold either way.
/// </summary>
[TestClass]
public sealed class OneDnnConvolutionCheckTests
{
    [TestMethod]
    public void AfterLoadingTheProbesGradientsAreRight()
    {
        StringAssert.Contains(LibTorchRuntime.Description, "oneDNN convolutions", "the description says what was decided");
        double error = OneDnnConvolutionCheck.ProbeError();
        Assert.IsTrue(error <= OneDnnConvolutionCheck.Tolerance, $"relative error {error:E2}: {LibTorchRuntime.Description}");
    }

    /// <summary>Channel counts that are not multiples of 16, as a user's own network may have: gradients against float64.</summary>
    [TestMethod]
    [DataRow(3, 10, 12, 3)]
    [DataRow(16, 24, 6, 3)]
    [DataRow(32, 12, 14, 3)]
    [DataRow(16, 8, 6, 5)]
    [DataRow(1, 32, 28, 3)]
    public void ConvolutionGradientsMatchFloat64(int inChannels, int outChannels, int size, int kernel)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(inChannels * 100 + outChannels);
        var x = randn(8, inChannels, size, size);
        var w = randn(outChannels, inChannels, kernel, kernel);
        var g = randn(8, outChannels, size, size);
        var padding = new long[] { kernel / 2, kernel / 2 };
        var (x64, w64) = (x.to(ScalarType.Float64).requires_grad_(true), w.to(ScalarType.Float64).requires_grad_(true));
        nn.functional.conv2d(x64, w64, padding: padding).backward(new[] { g.to(ScalarType.Float64) });
        var (x32, w32) = (x.clone().requires_grad_(true), w.clone().requires_grad_(true));
        var y32 = nn.functional.conv2d(x32, w32, padding: padding);
        y32.backward(new[] { g });
        static double Relative(Tensor a, Tensor reference) => (a - reference.to(ScalarType.Float32)).abs().max().item<float>() / reference.abs().max().item<double>();
        var y64 = nn.functional.conv2d(x.to(ScalarType.Float64), w.to(ScalarType.Float64), padding: padding);
        Assert.IsTrue(Relative(y32, y64) < 1e-5, $"forward: {Relative(y32, y64):E2}");
        Assert.IsTrue(Relative(x32.grad!, x64.grad!) < 1e-5, $"input gradient: {Relative(x32.grad!, x64.grad!):E2}");
        Assert.IsTrue(Relative(w32.grad!, w64.grad!) < 1e-5, $"weight gradient: {Relative(w32.grad!, w64.grad!):E2}");
    }

    [TestMethod]
    public void ANonsenseSettingIsRefusedWithTheVariableNamed()
    {
        string? before = Environment.GetEnvironmentVariable(OneDnnConvolutionCheck.Variable);
        try
        {
            Environment.SetEnvironmentVariable(OneDnnConvolutionCheck.Variable, "maybe");
            var e = Assert.ThrowsExactly<InvalidOperationException>(() => OneDnnConvolutionCheck.Apply());
            StringAssert.Contains(e.Message, OneDnnConvolutionCheck.Variable);
            StringAssert.Contains(e.Message, "maybe");
        }
        finally
        {
            Environment.SetEnvironmentVariable(OneDnnConvolutionCheck.Variable, before);
        }
    }
}
