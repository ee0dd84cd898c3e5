using System.Diagnostics;

namespace MLNet.Bayesian.Tests;

/// <summary>What the flat-memory tests read: resident memory after a full collection, and the tensors alive on this thread.</summary>
internal static class TestMemory
{
    public static long LiveTensors() => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>Resident bytes after collecting and finalizing whatever can be.</summary>
    public static long SettledResidentBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }
}
