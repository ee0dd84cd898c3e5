using MLNet.Bayesian.Posterior;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// The S seeded posterior draws that prediction averages over: draw s is <see cref="BayesianNetwork.Draw"/>(seed, s).
/// When all S fit in <see cref="CacheBudgetBytes"/> they are drawn once and kept (read-only, so any number of
/// threads may score with them at once); otherwise each use draws afresh and frees the draw afterwards. Both
/// give the same numbers. Create it after training: a kept draw does not follow later changes of the weights.
/// </summary>
internal sealed class SeededDraws : IDisposable
{
    /// <summary>Memory the kept draws may take (weights x S x 4 bytes).</summary>
    public const long CacheBudgetBytes = 256L * 1024 * 1024;

    readonly BayesianNetwork _network;
    readonly WeightDraw[]? _kept;

    public SeededDraws(BayesianNetwork network, int seed, int samples, long cacheBudgetBytes = CacheBudgetBytes)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), "at least one sample is needed");
        _network = network;
        Seed = seed;
        Count = network.Stage == BayesianStage.Deterministic ? 1 : samples;
        if (network.BayesianWeightCount * 4L * Count <= cacheBudgetBytes)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();   // frees the intermediates of each draw; the draws themselves are detached
            _kept = Enumerable.Range(0, Count).Select(s => network.Draw(seed, s).DetachFromDisposeScope()).ToArray();
        }
    }

    /// <summary>The scorer seed.</summary>
    public int Seed { get; }
    /// <summary>Number of draws S (1 for a deterministic network).</summary>
    public int Count { get; }
    /// <summary>Whether the draws are kept in memory.</summary>
    public bool Kept => _kept is not null;

    /// <summary>Draw <paramref name="sample"/>; dispose the lease when the forward pass is done.</summary>
    public Lease Get(int sample)
    {
        if ((uint)sample >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(sample), $"draws 0..{Count - 1} exist");
        return _kept is not null ? new Lease(_kept[sample], owned: false) : new Lease(_network.Draw(Seed, sample), owned: true);
    }

    /// <summary>A draw in use: frees it on dispose unless it is kept.</summary>
    public readonly struct Lease : IDisposable
    {
        readonly bool _owned;
        internal Lease(WeightDraw draw, bool owned) { Draw = draw; _owned = owned; }
        public WeightDraw Draw { get; }
        public void Dispose() { if (_owned) Draw.Dispose(); }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_kept is null) return;
        foreach (var draw in _kept) draw.Dispose();
    }
}
