using MLNet.Bayesian.Training;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// A copy of a trained network's state dict, kept apart from the network, for later runs to start from
/// (<see cref="BayesianTrainer.DeterministicState"/>): the ablation rows and the posterior-scale runs all start from one
/// stage-0 network.
/// </summary>
internal sealed class WeightsCopy : IDisposable
{
    public WeightsCopy(BayesianNetwork network)
        => State = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromDisposeScope());

    public IReadOnlyDictionary<string, Tensor> State { get; }

    public void Dispose()
    {
        foreach (var t in State.Values) t.Dispose();
    }
}
