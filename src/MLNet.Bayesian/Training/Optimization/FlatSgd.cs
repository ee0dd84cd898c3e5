using MLNet.Bayesian.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training.Optimization;

/// <summary>
/// SGD with (heavy-ball) momentum on flat buffers: three operations per buffer and step, the same arithmetic as
/// TorchSharp's <see cref="SGD"/> without dampening or Nesterov (see <see cref="FlatOptimizer"/> for why).
/// </summary>
internal sealed class FlatSgd : FlatOptimizer
{
    // Kept for the optimiser's lifetime: a Scalar made implicitly per call could be finalised mid-call (see ScalarSafeOps).
    readonly Scalar _momentum;
    // Starts at zero: momentum x 0 + g is exactly g, TorchSharp's first-step copy of the gradient.
    // Per parameter group, one tensor per flat buffer of that group.
    readonly Tensor[][] _buffers;

    /// <summary>SGD over <paramref name="parameters"/> with momentum <paramref name="momentum"/>.</summary>
    public FlatSgd(IEnumerable<Parameter> parameters, double learningRate, double momentum = 0.9)
        : this(new[] { new ParameterGroup(parameters.ToList(), learningRate) }, momentum)
    {
    }

    /// <summary>SGD over parameter groups, each at its own learning rate, all with momentum <paramref name="momentum"/>.</summary>
    public FlatSgd(IReadOnlyList<ParameterGroup> groups, double momentum = 0.9)
        : base(groups)
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "The momentum must lie in [0, 1).");
        _momentum = momentum.ToScalar();
        _buffers = Groups.Select(g => g.Values.Select(v => zeros_like(v).DetachFromDisposeScope()).ToArray()).ToArray();
    }

    /// <inheritdoc/>
    protected override void Update(FlatParameters flat, int group, double learningRate)
    {
        using var step = (-learningRate).ToScalar();
        var buffers = _buffers[group];
        for (int i = 0; i < buffers.Length; i++)
        {
            buffers[i].mul_(_momentum).add_(flat.Gradients[i], ScalarSafeOps.OneScalar);
            flat.Values[i].add_(buffers[i], step);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var t in _buffers.SelectMany(g => g)) t.Dispose();
        _momentum.Dispose();
    }
}
