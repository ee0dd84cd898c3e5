using System.Globalization;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Platform workaround: checks once per process that LibTorch's oneDNN convolutions compute correct gradients on this
/// CPU, and switches them off when they do not. PyTorch then uses its own convolution kernels (im2col and BLAS).
/// <para>
/// Why: on this project's AMD EPYC machines with AVX-512, the CPU LibTorch 2.10 gives wrong input gradients for every
/// convolution whose output channels are not a multiple of 16 and whose kernel is larger than 1x1. The kernel is
/// oneDNN's <c>jit:avx512_core</c> backward-data, which pads the channels to blocks of 16.
/// </para>
/// <list type="bullet">
/// <item>Measured against float64: 1 -> 4 channels, 12x12, 3x3 is off by 0.93 of the largest gradient; 4 -> 8 by 0.76;
/// 16 -> 24 by 0.36; 32 -> 12 by 0.44.</item>
/// <item>1 -> 16, 8 -> 16, 16 -> 48 and 32 -> 64 are right (3e-7).</item>
/// <item>The results also change with the thread count. That is how the flat optimiser's tests (issue 32) found it:
/// their small network has 4 and 8 channels.</item>
/// <item>The machine the earlier CI runs passed on computed them correctly.</item>
/// </list>
/// <para>
/// The library's own networks have 16, 32 or 64 channels, but a user's network need not. The check runs one such
/// convolution in float32 (where oneDNN runs) and float64 (where it does not) and compares the input gradients.
/// </para>
/// <para>
/// TorchSharp has no switch for oneDNN, so this calls LibTorch's <c>at::globalContext().setUserEnabledMkldnn</c> by its
/// exported C++ name (stable since PyTorch 1.x). <see cref="Variable"/> = <c>on</c> or <c>off</c> decides without the
/// check.
/// </para>
/// </summary>
internal static class OneDnnConvolutionCheck
{
    /// <summary>Environment variable: "on" keeps oneDNN's convolutions without checking, "off" switches them off.</summary>
    public const string Variable = "MLNET_BAYESIAN_ONEDNN";

    /// <summary>Relative error of the probe's input gradient above which oneDNN is switched off (correct kernels give 1e-7).</summary>
    public const double Tolerance = 1e-4;

    /// <summary>Runs the check (or follows <see cref="Variable"/>) and returns a line for the LibTorch description.</summary>
    internal static string Apply()
    {
        string? setting = Environment.GetEnvironmentVariable(Variable)?.Trim();
        if (string.Equals(setting, "on", StringComparison.OrdinalIgnoreCase)) return $"oneDNN convolutions on ({Variable}=on)";
        if (!string.IsNullOrEmpty(setting) && !string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"{Variable} is '{setting}'; it must be 'on', 'off' or unset (then a check on this CPU decides).");
        var context = Context.Find();
        if (context is null) return "oneDNN convolutions as LibTorch set them (this LibTorch exports no switch for them)";
        if (!context.Enabled) return "oneDNN convolutions off (LibTorch was built or set without them)";
        if (setting is not null)
        {
            context.Enabled = false;
            return $"oneDNN convolutions off ({Variable}=off)";
        }
        double error = ProbeError();
        if (error <= Tolerance) return "oneDNN convolutions on (their gradients checked on this CPU)";
        context.Enabled = false;
        double after = ProbeError();
        return string.Create(CultureInfo.InvariantCulture,
            $"oneDNN convolutions off: on this CPU their input gradients were wrong (relative error {error:G2} on 3x3 convolutions " +
            $"with 8 or 24 output channels; {after:G2} with LibTorch's own kernels); {Variable}=on keeps them");
    }

    /// <summary>
    /// Largest difference, relative to the largest value, between the float32 input gradients of 4 -> 8 and 16 -> 24-channel
    /// 3x3 convolutions (oneDNN's kernel when it is on) and the float64 ones (never oneDNN's).
    /// </summary>
    internal static double ProbeError()
    {
        // The faulty kernel reads memory it never wrote (the padding of its 16-channel blocks), so it can come out right
        // on memory that happens to be clean: one probe right after loading missed the fault in 1 of 3 processes whose
        // later convolutions were wrong. So the probe leaves NaN in freed memory first, tries two shapes, three times
        // each, and reports the worst (a few milliseconds in all).
        double worst = 0;
        using var noise = new Generator(20_251_205);
        for (int round = 0; round < 3; round++)
            foreach (var (inChannels, outChannels) in new[] { (4, 8), (16, 24) })
            {
                using var scope = NewDisposeScope();
                for (int i = 0; i < 24; i++) full(new long[] { 256L << (i % 8) }, float.NaN).Dispose();
                var x = randn(new long[] { 8, inChannels, 6, 6 }, generator: noise);
                var w = randn(new long[] { outChannels, inChannels, 3, 3 }, generator: noise);
                var g = randn(new long[] { 8, outChannels, 6, 6 }, generator: noise);
                var padding = new long[] { 1, 1 };
                var x64 = x.to(ScalarType.Float64).requires_grad_(true);
                nn.functional.conv2d(x64, w.to(ScalarType.Float64), padding: padding).backward(new[] { g.to(ScalarType.Float64) });
                var x32 = x.clone().requires_grad_(true);
                nn.functional.conv2d(x32, w, padding: padding).backward(new[] { g });
                var reference = x64.grad!.to(ScalarType.Float32);
                double error = (x32.grad! - reference).abs().max().item<float>() / reference.abs().max().item<float>();
                // NaN (the kernel read the NaN left behind) is the clearest failure of all.
                worst = double.IsNaN(error) ? double.PositiveInfinity : Math.Max(worst, error);
                if (double.IsPositiveInfinity(worst)) return worst;
            }
        return worst;
    }

    /// <summary>LibTorch's global context and its oneDNN switch, reached through libtorch_cpu's exported C++ functions.</summary>
    sealed unsafe class Context
    {
        readonly IntPtr _context;
        readonly delegate* unmanaged<IntPtr, byte> _get;
        readonly delegate* unmanaged<IntPtr, byte, void> _set;

        Context(IntPtr context, IntPtr get, IntPtr set)
        {
            _context = context;
            _get = (delegate* unmanaged<IntPtr, byte>)get;
            _set = (delegate* unmanaged<IntPtr, byte, void>)set;
        }

        public bool Enabled
        {
            get => _get(_context) != 0;
            // A member function on x64 takes `this` as its first argument (System V and Microsoft x64 alike).
            set => _set(_context, value ? (byte)1 : (byte)0);
        }

        /// <summary>The context of the libtorch_cpu already loaded in this process, or null when it lacks the exports.</summary>
        public static Context? Find()
        {
            if (RuntimeInformation.ProcessArchitecture != Architecture.X64 || !OperatingSystem.IsLinux()) return null;
            // Asking the dynamic loader by name hands back the library TorchSharp (or LibTorchRuntime) loaded.
            if (!NativeLibrary.TryLoad("libtorch_cpu.so", out var library)) return null;
            if (!NativeLibrary.TryGetExport(library, "_ZN2at13globalContextEv", out var global)
                || !NativeLibrary.TryGetExport(library, "_ZNK2at7Context17userEnabledMkldnnEv", out var get)
                || !NativeLibrary.TryGetExport(library, "_ZN2at7Context20setUserEnabledMkldnnEb", out var set))
                return null;
            return new Context(((delegate* unmanaged<IntPtr>)global)(), get, set);
        }
    }
}
