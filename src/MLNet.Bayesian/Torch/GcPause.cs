using System.Runtime;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Holds off garbage collection while a block of LibTorch calls runs (one training step, one scoring batch).
/// TorchSharp 0.107 hands LibTorch the handles of temporary Scalar objects that nothing keeps alive (for
/// example in BatchNorm's running-statistics update and in its optimisers); a collection during such a call
/// lets the finalizer free the Scalar while LibTorch reads it (CI saw "alpha must not be a floating point
/// number" from BatchNorm.forward). With no collection inside the block, the temporaries outlive their calls.
/// Nested pauses are no-ops; if the block allocates past the budget the runtime collects anyway and the
/// pause simply ends. Starting a pause costs a full blocking collection, so scoring pauses only for networks that
/// contain a module outside <see cref="IsScalarSafe"/>: serving one row at a time would otherwise collect per row.
/// </summary>
internal readonly struct GcPause : IDisposable
{
    /// <summary>Managed bytes a training step or scoring batch may allocate without a collection.</summary>
    public const long DefaultBudget = 64L * 1024 * 1024;

    readonly bool _started;

    GcPause(bool started) => _started = started;

    /// <summary>Starts a pause unless one is already running.</summary>
    public static GcPause Begin(long budget = DefaultBudget)
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) return new GcPause(false);
        return new GcPause(GC.TryStartNoGCRegion(budget));
    }

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

    /// <summary>Ends the pause if it is still in force.</summary>
    public void Dispose()
    {
        if (_started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
    }
}
