using MLNet.Bayesian.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>Bayesian replacement of <see cref="Linear"/>.</summary>
internal sealed class BayesianLinear : StochasticLayer
{
    /// <summary>Copies the weight and bias of <paramref name="linear"/>.</summary>
    public BayesianLinear(Linear linear, double initialSigma) : base(nameof(BayesianLinear), linear.weight, linear.bias, initialSigma)
    {
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var (weight, stacked) = CurrentWeight();
        if (stacked == 0) return nn.functional.linear(input, weight, Bias);
        // S draws at once as one batched matmul: the rows of copy s meet weight s.
        var shape = input.shape;
        var y = input.reshape(stacked, -1, shape[^1]).bmm(weight.transpose(1, 2));
        if (Bias is not null) y = y.Plus(Bias);
        shape[^1] = WeightShape[0];
        return y.reshape(shape);
    }
}
