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

    NoiseSource(Generator? generator) => _generator = generator;

    /// <summary>LibTorch's global generator, on the device of the tensor the noise is shaped like.</summary>
    public static NoiseSource Global { get; } = new(null);

    /// <summary>A fresh CPU generator seeded with <paramref name="seed"/>: the same noise on every device.</summary>
    public static NoiseSource Seeded(long seed)
    {
        var generator = new Generator(0, CPU);
        generator.manual_seed(seed);
        return new NoiseSource(generator);
    }

    /// <summary>N(0, 1) noise with <paramref name="like"/>'s shape, type and device.</summary>
    public Tensor Normal(Tensor like)
    {
        if (_generator is null) return randn_like(like);
        var noise = randn(like.shape, dtype: like.dtype, device: CPU, generator: _generator);
        return like.device_type == DeviceType.CPU ? noise : noise.to(like.device);
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
