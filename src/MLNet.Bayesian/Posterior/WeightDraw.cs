using static TorchSharp.torch;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// One draw of a network's posterior: a weight tensor per Bayesian layer, in the network's layer order.
/// Disposing it frees the tensors.
/// </summary>
public sealed class WeightDraw : IDisposable
{
    internal WeightDraw(Tensor[] weights) => Weights = weights;

    /// <summary>The member of a deep ensemble that runs this draw (its weight list is empty); 0 for every other network.</summary>
    public int Member { get; internal init; }

    /// <summary>The weight of each Bayesian layer.</summary>
    public IReadOnlyList<Tensor> Weights { get; }

    /// <summary>Copies the weights to the CPU as one flat array per layer (row-major).</summary>
    public float[][] ToArrays()
    {
        using var scope = NewDisposeScope();
        return Weights.Select(w => w.detach().cpu().contiguous().data<float>().ToArray()).ToArray();
    }

    /// <summary>Keeps the tensors alive beyond the dispose scope they were drawn in (a draw cached for many calls).</summary>
    internal WeightDraw DetachFromDisposeScope()
    {
        foreach (var w in Weights) w.DetachFromDisposeScope();
        return this;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var w in Weights) w.Dispose();
    }
}
