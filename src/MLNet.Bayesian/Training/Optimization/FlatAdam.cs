using TorchSharp;
using MLNet.Bayesian.Torch;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training.Optimization;

/// <summary>
/// Adam (and AdamW, with a decoupled weight decay) on flat buffers: nine operations per buffer and step, the same
/// arithmetic as TorchSharp's <see cref="Adam"/> / <see cref="AdamW"/> (see <see cref="FlatOptimizer"/> for why).
/// </summary>
internal sealed class FlatAdam : FlatOptimizer
{
    readonly double _beta1, _beta2, _weightDecay;
    // Kept for the optimiser's lifetime: a Scalar made implicitly per call could be finalised mid-call (see ScalarSafeOps).
    readonly Scalar _beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _eps;
    // Per parameter group, one tensor per flat buffer of that group.
    readonly Tensor[][] _expAvg, _expAvgSq, _denominator;
    long _steps;

    /// <summary>
    /// Adam over <paramref name="parameters"/>; a <paramref name="weightDecay"/> above 0 makes it AdamW (the parameters
    /// shrink by lr x decay before each update, as in TorchSharp's and PyTorch's AdamW).
    /// </summary>
    public FlatAdam(IEnumerable<Parameter> parameters, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0)
        : this(new[] { new ParameterGroup(parameters.ToList(), learningRate) }, beta1, beta2, eps, weightDecay)
    {
    }

    /// <summary>Adam over parameter groups, each at its own learning rate (TorchSharp's Adam with param groups).</summary>
    public FlatAdam(IReadOnlyList<ParameterGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0)
        : base(groups)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must lie in [0, 1).");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must lie in [0, 1).");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be at least 0.");
        if (!(weightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be at least 0.");
        (_beta1, _beta2, _weightDecay) = (beta1, beta2, weightDecay);
        _beta1Scalar = beta1.ToScalar();
        _oneMinusBeta1 = (1 - beta1).ToScalar();
        _beta2Scalar = beta2.ToScalar();
        _oneMinusBeta2 = (1 - beta2).ToScalar();
        _eps = eps.ToScalar();
        _expAvg = Groups.Select(g => g.Values.Select(v => zeros_like(v).DetachFromDisposeScope()).ToArray()).ToArray();
        _expAvgSq = Groups.Select(g => g.Values.Select(v => zeros_like(v).DetachFromDisposeScope()).ToArray()).ToArray();
        _denominator = Groups.Select(g => g.Values.Select(v => empty_like(v).DetachFromDisposeScope()).ToArray()).ToArray();
    }

    /// <inheritdoc/>
    protected override void BeginStep() => _steps++;

    /// <inheritdoc/>
    protected override void Update(FlatParameters flat, int group, double learningRate)
    {
        double biasCorrection1 = 1 - Math.Pow(_beta1, _steps);
        double biasCorrection2 = 1 - Math.Pow(_beta2, _steps);
        using var decay = (1 - learningRate * _weightDecay).ToScalar();
        using var sqrtBiasCorrection2 = Math.Sqrt(biasCorrection2).ToScalar();
        using var stepSize = (-(learningRate / biasCorrection1)).ToScalar();
        var (expAvg, expAvgSq, denominator) = (_expAvg[group], _expAvgSq[group], _denominator[group]);
        for (int i = 0; i < expAvg.Length; i++)
        {
            var values = flat.Values[i];
            var grad = flat.Gradients[i];
            if (_weightDecay != 0) values.mul_(decay);
            expAvg[i].mul_(_beta1Scalar).add_(grad, _oneMinusBeta1);
            expAvgSq[i].mul_(_beta2Scalar).addcmul_(grad, grad, _oneMinusBeta2);
            // A kept buffer rather than sqrt(): a fresh tensor of the model's size every step would be allocated and freed each time.
            denominator[i].copy_(expAvgSq[i]).sqrt_().div_(sqrtBiasCorrection2).add_(_eps, ScalarSafeOps.OneScalar);
            values.addcdiv_(expAvg[i], denominator[i], stepSize);
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        foreach (var t in _expAvg.Concat(_expAvgSq).Concat(_denominator).SelectMany(g => g)) t.Dispose();
        foreach (var s in new[] { _beta1Scalar, _oneMinusBeta1, _beta2Scalar, _oneMinusBeta2, _eps }) s.Dispose();
    }
}
