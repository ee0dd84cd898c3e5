namespace MLNet.Bayesian.Tests;

[TestClass]
public static class AssemblySetup
{
    /// <summary>
    /// Tests touch TorchSharp directly (tensors, cuda.is_available) before any library call would load the machine's
    /// LibTorch in a -p:TorchBackend=system build (the GPU kit's): load it first. A no-op with a packaged LibTorch.
    /// </summary>
    [AssemblyInitialize]
    public static void LoadLibTorch(TestContext _) => Console.WriteLine(MLNet.Bayesian.Torch.LibTorchRuntime.EnsureLoaded());
}
