using MLNet.Bayesian.Posterior;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// The S seeded posterior draws that prediction averages over: draw s is <see cref="BayesianNetwork.Draw"/>(seed, s).
/// When all S fit in <see cref="CacheBudgetBytes"/> they are drawn once and kept, stacked per layer ([S, ...]), so
/// that a small batch runs all S at once (<see cref="BayesianNetwork.ForwardStacked"/>) and a large one takes views of
/// draw s; they are read-only, so any number of threads may score with them at once. Otherwise each use draws afresh and frees the draw afterwards.
/// Both give the same numbers. Create it after training: a kept draw does not follow later changes of the weights.
/// </summary>
internal sealed class SeededDraws : IDisposable
{
    /// <summary>Memory the kept draws may take (weights x S x 4 bytes).</summary>
    public const long CacheBudgetBytes = 256L * 1024 * 1024;

    readonly BayesianNetwork _network;
    readonly Tensor[]? _stacked;

    public SeededDraws(BayesianNetwork network, int seed, int samples, long cacheBudgetBytes = CacheBudgetBytes)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), "at least one sample is needed");
        _network = network;
        Seed = seed;
        Count = network.SampleCount(samples);
        // A deep ensemble's draws are whole members, run one by one: nothing to stack.
        if (network.Stage != BayesianStage.DeepEnsemble && network.BayesianWeightCount * 4L * Count <= cacheBudgetBytes)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();   // frees the draws and their intermediates; the stacks are detached
            var draws = Enumerable.Range(0, Count).Select(s => network.Draw(seed, s)).ToArray();
            _stacked = Enumerable.Range(0, network.Layers.Count)
                .Select(l => stack(draws.Select(d => d.Weights[l]).ToArray()).DetachFromDisposeScope()).ToArray();
        }
    }

    /// <summary>The scorer seed.</summary>
    public int Seed { get; }
    /// <summary>Number of draws S (1 for a deterministic network, the members of a deep ensemble).</summary>
    public int Count { get; }
    /// <summary>The kept draws, one [S, ...] tensor per layer; null when they are drawn on use.</summary>
    public IReadOnlyList<Tensor>? Stacked => _stacked;

    /// <summary>Draw <paramref name="sample"/>; dispose the lease when the forward pass is done.</summary>
    public Lease Get(int sample)
    {
        if ((uint)sample >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(sample), $"draws 0..{Count - 1} exist");
        // A kept draw is handed out as views of the stacks: disposing the views frees nothing of the stacks.
        return new Lease(_stacked is not null ? new WeightDraw(_stacked.Select(w => w.select(0, sample)).ToArray()) : _network.Draw(Seed, sample));
    }

    /// <summary>A draw in use: frees it (or its views) on dispose.</summary>
    public readonly struct Lease : IDisposable
    {
        internal Lease(WeightDraw draw) => Draw = draw;
        public WeightDraw Draw { get; }
        public void Dispose() => Draw.Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_stacked is null) return;
        foreach (var w in _stacked) w.Dispose();
    }
}
