using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>Bayesian replacement of <see cref="Linear"/>.</summary>
public sealed class BayesianLinear : StochasticLayer
{
    /// <summary>Copies the weight and bias of <paramref name="linear"/>.</summary>
    public BayesianLinear(Linear linear, double initialSigma) : base(nameof(BayesianLinear), linear.weight, linear.bias, initialSigma)
    {
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => nn.functional.linear(input, CurrentWeight(), Bias);
}
