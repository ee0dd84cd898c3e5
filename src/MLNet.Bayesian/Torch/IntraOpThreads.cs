using System.Globalization;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// How many threads LibTorch's CPU kernels use. LibTorch's own default comes from MKL (mkl_get_max_threads: the
/// physical cores its CPUID probe finds), which on a virtual machine can be the host's count rather than the cores
/// this process may run on; it ignores a container's CPU quota, and it silently caps <c>OMP_NUM_THREADS</c> at that
/// count. More threads than cores only make them wait for each other (LibTorch's OpenMP workers spin while they
/// wait). So: an explicit <c>OMP_NUM_THREADS</c> is taken exactly as written, and otherwise the count is capped at
/// <see cref="Environment.ProcessorCount"/>, which .NET derives from the affinity mask and the cgroup quota.
/// </summary>
internal static class IntraOpThreads
{
    /// <summary>The variable that fixes the count (the OpenMP convention LibTorch and PyTorch document).</summary>
    public const string Variable = "OMP_NUM_THREADS";

    /// <summary>
    /// The thread count to run with and why: <paramref name="requested"/> (the variable's text, null when unset) when it
    /// is a positive whole number, else LibTorch's <paramref name="libTorchDefault"/> capped at <paramref name="processors"/>.
    /// </summary>
    public static (int Threads, string Reason) Choose(string? requested, int libTorchDefault, int processors)
    {
        if (!string.IsNullOrWhiteSpace(requested))
        {
            if (int.TryParse(requested.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0)
                return (n, $"{Variable}={n}");
            throw new InvalidOperationException($"{Variable} is '{requested}'; it must be a positive whole number of threads, or unset " +
                                                $"(then this process uses at most its {processors} processors).");
        }
        if (libTorchDefault > processors)
            return (processors, $"LibTorch's default {libTorchDefault} capped at the {processors} processors this process may use; set {Variable} to choose");
        return (libTorchDefault, $"LibTorch's default, {processors} processors available");
    }

    /// <summary>Applies <see cref="Choose"/> to this process's LibTorch; returns a line for the log.</summary>
    internal static string Apply()
    {
        var (threads, reason) = Choose(Environment.GetEnvironmentVariable(Variable), TorchSharp.torch.get_num_threads(), Environment.ProcessorCount);
        if (TorchSharp.torch.get_num_threads() != threads) TorchSharp.torch.set_num_threads(threads);
        return $"{threads} intra-op thread{(threads == 1 ? "" : "s")} ({reason})";
    }
}
