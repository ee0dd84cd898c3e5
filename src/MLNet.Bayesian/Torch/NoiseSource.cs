using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Where the standard normal noise of one posterior draw comes from. Training draws from LibTorch's global
/// generator on the model's device. A seeded draw takes its noise from a CPU generator seeded with the draw's
/// seed and moves it to the device: TorchSharp 0.107 cannot create CUDA generators (its native
/// THSGenerator_new always makes a CPU one, and a CPU generator passed to a CUDA op fails), and CPU noise
/// makes draw s the same numbers on every device.
/// </summary>
internal sealed class NoiseSource : IDisposable
{
    readonly Generator? _generator;
    readonly double _scale;

    NoiseSource(Generator? generator, double scale = 1.0)
    {
        _generator = generator;
        _scale = scale;
    }

    /// <summary>LibTorch's global generator, on the device of the tensor the noise is shaped like.</summary>
    public static NoiseSource Global { get; } = new(null);

    /// <summary>
    /// A fresh CPU generator seeded with <paramref name="seed"/>: the same noise on every device. Its normal noise is
    /// multiplied by <paramref name="normalScale"/> (a Gaussian posterior's draws then spread <paramref name="normalScale"/>
    /// times as far about its means; see <see cref="Training.BayesianNetwork.PosteriorScale"/>).
    /// </summary>
    public static NoiseSource Seeded(long seed, double normalScale = 1.0)
    {
        OptionCheck.Positive(nameof(normalScale), normalScale);
        var generator = new Generator(0, CPU);
        generator.manual_seed(seed);
        return new NoiseSource(generator, normalScale);
    }

    /// <summary>LibTorch's global generator with its normal noise multiplied by <paramref name="normalScale"/> (unseeded scoring).</summary>
    public static NoiseSource GlobalScaled(double normalScale)
    {
        OptionCheck.Positive(nameof(normalScale), normalScale);
        return normalScale == 1.0 ? Global : new NoiseSource(null, normalScale);
    }

    /// <summary>N(0, s^2) noise with <paramref name="like"/>'s shape, type and device (s = 1 unless the source was made with a scale).</summary>
    public Tensor Normal(Tensor like)
    {
        var noise = _generator is null ? randn_like(like) : randn(like.shape, dtype: like.dtype, device: CPU, generator: _generator);
        // A seeded draw's noise is scaled on the CPU before the move, so that every device gets the same numbers.
        if (_scale != 1.0)
        {
            // A Scalar kept alive for the call (see ScalarSafeOps).
            using var scale = _scale.ToScalar();
            noise.mul_(scale);
            GC.KeepAlive(scale);
        }
        return _generator is null || like.device_type == DeviceType.CPU ? noise : noise.to(like.device);
    }

    /// <summary>U[0, 1) noise of the given shape on <paramref name="device"/> (for dropout masks).</summary>
    public Tensor Uniform(long[] shape, Device device)
    {
        if (_generator is null) return rand(shape, device: device);
        var noise = rand(shape, device: CPU, generator: _generator);
        return device.type == DeviceType.CPU ? noise : noise.to(device);
    }

    /// <inheritdoc />
    public void Dispose() => _generator?.Dispose();
}
