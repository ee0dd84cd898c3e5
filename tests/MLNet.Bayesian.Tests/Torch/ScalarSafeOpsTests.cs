using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Torch;

/// <summary>
/// <see cref="ScalarSafeOps"/> exists because TorchSharp 0.107 hands LibTorch temporary Scalar objects that a garbage
/// collection on another thread may finalize mid-call. These tests run the helpers while another thread collects and
/// finalizes without pause, and check every result.
/// </summary>
[TestClass]
public sealed class ScalarSafeOpsTests
{
    [TestMethod]
    public void HelpersStayCorrectWhileAnotherThreadCollectsAndFinalizes()
    {
        using var collector = new BackgroundCollector();
        var deadline = DateTime.UtcNow.AddSeconds(4);
        int calls = 0;
        while (DateTime.UtcNow < deadline)
        {
            using var scope = NewDisposeScope();
            using var x = full(4096, -3.0);
            using var sum = ScalarSafeOps.Add(x, 1.25);
            using var clamped = ScalarSafeOps.ClampMin(x, -1.0);
            using var plus = x.Plus(sum);
            using var minus = x.Minus(sum);
            using var softplus = ScalarSafeOps.Softplus(x);
            Assert.AreEqual(-1.75f, sum[0].item<float>(), $"x + 1.25 after {calls} calls");
            Assert.AreEqual(-1.0f, clamped[4095].item<float>(), $"max(x, -1) after {calls} calls");
            Assert.AreEqual(-4.75f, plus[7].item<float>(), $"x + (x + 1.25) after {calls} calls");
            Assert.AreEqual(-1.25f, minus[9].item<float>(), $"x - (x + 1.25) after {calls} calls");
            Assert.AreEqual(Math.Log(1 + Math.Exp(-3.0)), softplus[3].item<float>(), 1e-6, $"softplus after {calls} calls");
            calls++;
        }
        Assert.IsTrue(calls > 100, $"only {calls} rounds ran");
    }
}
