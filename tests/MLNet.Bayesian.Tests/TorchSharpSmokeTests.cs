using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests;

[TestClass]
public sealed class TorchSharpSmokeTests
{
    [TestMethod]
    public void ConvForwardBackwardMatchesHandComputation()
    {
        // 1x1x3x3 input, one 2x2 kernel, no padding: output is 2x2.
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }).reshape(1, 1, 3, 3);
        var w = tensor(new float[] { 1, 0, 0, -1 }).reshape(1, 1, 2, 2).requires_grad_();
        var y = nn.functional.conv2d(x, w);
        CollectionAssert.AreEqual(new float[] { -4, -4, -4, -4 }, y.data<float>().ToArray());
        y.sum().backward();
        // d(sum y)/dw[i,j] = sum of the input patch entries that meet w[i,j].
        CollectionAssert.AreEqual(new float[] { 12, 16, 24, 28 }, w.grad!.data<float>().ToArray());
    }
}
