using MLNet.Bayesian.Torch;

namespace MLNet.Bayesian.Tests.Torch;

[TestClass]
public sealed class IntraOpThreadsTests
{
    [TestMethod]
    public void AnExplicitOmpNumThreadsIsTakenAsWrittenEvenAboveTheProcessorCount()
    {
        Assert.AreEqual(16, IntraOpThreads.Choose("16", libTorchDefault: 2, processors: 2).Threads);
        Assert.AreEqual(1, IntraOpThreads.Choose(" 1 ", libTorchDefault: 8, processors: 2).Threads);
        StringAssert.Contains(IntraOpThreads.Choose("3", 2, 2).Reason, "OMP_NUM_THREADS=3");
    }

    [TestMethod]
    public void WithoutItLibTorchsDefaultIsCappedAtTheProcessorsThisProcessMayUse()
    {
        var (threads, reason) = IntraOpThreads.Choose(null, libTorchDefault: 32, processors: 2);
        Assert.AreEqual(2, threads);
        StringAssert.Contains(reason, "capped");
        Assert.AreEqual(2, IntraOpThreads.Choose("", libTorchDefault: 2, processors: 4).Threads, "a default below the processor count is kept");
    }

    [TestMethod]
    public void ANonsenseValueIsRefusedWithTheVariableNamed()
    {
        foreach (var bad in new[] { "0", "-2", "four", "2.5" })
        {
            var e = Assert.ThrowsExactly<InvalidOperationException>(() => IntraOpThreads.Choose(bad, 2, 2));
            StringAssert.Contains(e.Message, "OMP_NUM_THREADS");
            StringAssert.Contains(e.Message, bad);
        }
    }

    [TestMethod]
    public void ThisProcessRunsWithTheChosenCount()
    {
        // AssemblySetup loaded LibTorch, which applied the choice; the tests that change the count restore it.
        string? requested = Environment.GetEnvironmentVariable(IntraOpThreads.Variable);
        int threads = TorchSharp.torch.get_num_threads();
        if (!string.IsNullOrWhiteSpace(requested)) Assert.AreEqual(int.Parse(requested), threads);
        else Assert.IsTrue(threads >= 1 && threads <= Environment.ProcessorCount, $"{threads} threads on {Environment.ProcessorCount} processors");
        StringAssert.Contains(LibTorchRuntime.Description, $"{threads} intra-op thread");
    }
}
