using MLNet.Bayesian.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// Training-time dropout for MC dropout: forward pre-hooks that, in training mode, drop input channels of every
/// Conv2d and input features of every Linear layer of a plain network except the first (whose input is the pixels:
/// dropping pixels is input noise, not a posterior over weights). Each example gets its own mask, as in standard
/// dropout; the mask of a Linear layer is shared across the middle dimensions of its input (the tokens of a
/// transformer), because a weight mask (the prediction draw, <see cref="McDropoutPosterior"/>) drops a feature for
/// the whole example. Per example the distribution is the draws' exactly; training with one mask per example instead
/// of one per batch gives a gradient of lower variance. In evaluation mode the hooks pass inputs through.
/// </summary>
internal static class InputDropout
{
    /// <summary>Hooks the layers of <paramref name="network"/>, masks drawn from <paramref name="noise"/>; dispose the result to remove the hooks.</summary>
    public static IDisposable Install(nn.Module network, double rate, NoiseSource noise)
    {
        var layers = network.modules().Where(m => m is Conv2d or Linear).Cast<nn.Module<Tensor, Tensor>>().ToList();
        foreach (var conv in layers.Skip(1).OfType<Conv2d>())
            if (conv.groups != 1)
                throw new NotSupportedException($"MC dropout drops whole input channels, which a grouped Conv2d ({conv.groups} groups) does not map to its weight's columns; " +
                    "use another method for this network.");
        var removers = layers.Skip(1).Select(layer => layer.register_forward_pre_hook((module, x) => module.training ? Drop(x, module is Conv2d, rate, noise) : x)).ToList();
        return new Removal(() => removers.ForEach(r => r.remove()));
    }

    static Tensor Drop(Tensor x, bool channels, double rate, NoiseSource noise)
    {
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[0] = x.shape[0];
        if (channels) shape[1] = x.shape[1];
        else shape[^1] = x.shape[^1];
        return x.mul(DropoutMask.Draw(shape, rate, noise, x));
    }

    sealed class Removal(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }
}
