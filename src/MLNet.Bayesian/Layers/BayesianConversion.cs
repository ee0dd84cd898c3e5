using MLNet.Bayesian.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>Turns a deterministic TorchSharp module into its mean-field Bayesian form, in place.</summary>
internal static class BayesianConversion
{
    /// <summary>
    /// Replaces every Conv2d and Linear inside <paramref name="module"/> (at any depth) by its
    /// Bayesian counterpart, initialised at the deterministic weights with sigma = <paramref name="initialSigma"/>.
    /// Normalisation layers and everything else stay as they are. Returns the converted layers in
    /// module order with their qualified names.
    /// </summary>
    public static IReadOnlyList<(string Name, StochasticLayer Layer)> ToMeanField(nn.Module module, double initialSigma = 1e-3)
    {
        ArgumentNullException.ThrowIfNull(module);
        if (module is Conv2d or Linear)
            throw new ArgumentException("The module itself is a single Conv2d/Linear; wrap it in a Sequential to convert it.");
        var layers = new List<(string, StochasticLayer)>();
        Convert(module, "", initialSigma, layers);
        if (layers.Count == 0)
            throw new ArgumentException($"{module.GetType().Name} holds no Conv2d or Linear layer to make Bayesian.");
        return layers;
    }

    static void Convert(nn.Module parent, string prefix, double initialSigma, List<(string, StochasticLayer)> layers)
    {
        foreach (var (name, child) in parent.named_children().ToList())
        {
            string qualified = prefix.Length == 0 ? name : prefix + "." + name;
            StochasticLayer? replacement = child switch
            {
                Conv2d conv => new BayesianConv2d(conv, initialSigma),
                Linear linear => new BayesianLinear(linear, initialSigma),
                _ => null,
            };
            if (replacement is null)
            {
                if (child is not StochasticLayer) Convert(child, qualified, initialSigma, layers);
                else layers.Add((qualified, (StochasticLayer)child));
                continue;
            }
            ModuleSurgery.ReplaceChild(parent, name, child, replacement);
            child.Dispose();
            layers.Add((qualified, replacement));
        }
    }
}
