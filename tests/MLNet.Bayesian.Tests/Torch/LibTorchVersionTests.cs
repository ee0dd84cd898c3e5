using MLNet.Bayesian.Torch;

namespace MLNet.Bayesian.Tests.Torch;

[TestClass]
public sealed class LibTorchVersionTests
{
    [TestMethod]
    public void AnOldLibTorchIsRefusedWithBothVersionsAndTheWayOut()
    {
        var e = Assert.ThrowsExactly<InvalidOperationException>(() => LibTorchRuntime.CheckVersion("1.13.1", "/usr/lib/python3/dist-packages/torch/lib", "the PyTorch of python3"));
        foreach (string part in new[] { "1.13.1", "2.10", LibTorchRuntime.FolderVariable, "/usr/lib/python3/dist-packages/torch/lib", "pip install torch" })
            StringAssert.Contains(e.Message, part);
        LibTorchRuntime.CheckVersion("2.10.0+cu130", "/x", "test");
        LibTorchRuntime.CheckVersion("2.11.0", "/x", "test");
        LibTorchRuntime.CheckVersion(null, "/x", "test");
    }
}
