using System.Runtime;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Holds off garbage collection while a block of LibTorch calls runs (one training step, one scoring batch).
/// TorchSharp 0.107 hands LibTorch the handles of temporary Scalar objects that nothing keeps alive (for
/// example in BatchNorm's running-statistics update and in its optimisers); a collection during such a call
/// lets the finalizer free the Scalar while LibTorch reads it (CI saw "alpha must not be a floating point
/// number" from BatchNorm.forward). With no collection inside the block, the temporaries outlive their calls.
/// If the block allocates past the budget the runtime collects anyway and the pause simply ends. Starting a pause costs a
/// full blocking collection, so scoring pauses only for networks that contain a module outside <see cref="IsScalarSafe"/>:
/// serving one row at a time would otherwise collect per row.
/// The no-GC region is one per process, so the pauses of all threads share it: the first to begin starts it, the last
/// to end ends it. Two trainers (or a trainer and a scoring thread) in one process then never end the region under
/// each other's LibTorch call, and a nested pause on the same thread is just one more holder.
/// </summary>
internal readonly struct GcPause : IDisposable
{
    /// <summary>Managed bytes a training step or scoring batch may allocate without a collection.</summary>
    public const long DefaultBudget = 64L * 1024 * 1024;

    static readonly object Gate = new();
    static int _holders;
    static bool _regionStarted;

    readonly bool _holding;

    GcPause(bool holding) => _holding = holding;

    /// <summary>Pauses collection until the returned pause and every other thread's are disposed.</summary>
    public static GcPause Begin(long budget = DefaultBudget)
    {
        lock (Gate)
        {
            if (_holders == 0)
            {
                // A region the application started itself is left to it.
                if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return new GcPause(false);
                // Not restarted while others hold it (it may have ended on its budget): starting one collects first, which
                // is the very thing that must not happen during their calls.
                _regionStarted = GC.TryStartNoGCRegion(budget);
            }
            _holders++;
            return new GcPause(true);
        }
    }

    /// <summary>How many pauses are in force in this process (for tests).</summary>
    internal static int Holders { get { lock (Gate) return _holders; } }

    /// <summary>
    /// Whether a forward pass in evaluation mode through <paramref name="module"/> and all its children passes no
    /// temporary Scalar to LibTorch: every module is one of this library's (which use <see cref="ScalarSafeOps"/>) or
    /// a TorchSharp layer whose evaluation-mode forward takes its numbers as plain arguments. TorchVision's ResNet
    /// blocks (add_ with an implicit alpha) and users' own modules are not known, so they keep the pause.
    /// </summary>
    public static bool IsScalarSafe(TorchSharp.torch.nn.Module module)
        => module.modules().All(m => m.GetType().Assembly == typeof(GcPause).Assembly
            || m.GetType().Namespace == "TorchSharp.Modules" && SafeTorchModules.Contains(m.GetType().Name));

    static readonly HashSet<string> SafeTorchModules = new()
    {
        "Sequential", "Conv2d", "Linear", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "ReLU", "GELU", "Tanh", "Sigmoid",
        "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "Identity", "Dropout",
    };

    /// <summary>Ends the region when this was the last pause in force.</summary>
    public void Dispose()
    {
        if (!_holding) return;
        lock (Gate)
        {
            if (--_holders > 0 || !_regionStarted) return;
            _regionStarted = false;
            // The region ends by itself once the process allocates past the budget (any thread, at any moment, also
            // between this check and the call); then there is nothing to end, which is the one case the filter lets pass.
            if (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) return;
            try { GC.EndNoGCRegion(); }
            catch (InvalidOperationException) when (GCSettings.LatencyMode != GCLatencyMode.NoGCRegion) { }
        }
    }
}
