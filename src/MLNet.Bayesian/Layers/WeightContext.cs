using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>
/// The weights of the Bayesian layers for the forward pass running on this thread. A draw belongs to one call,
/// not to the modules: two threads can run the same network with different draws at once, and nothing is left
/// behind in a module between calls. A call either runs one draw, or S draws at once (stacked):
/// then every weight has a leading dimension S and the batch holds S copies of the inputs, sample-major.
/// </summary>
internal static class WeightContext
{
    internal sealed record Frame(Dictionary<StochasticLayer, Tensor> Weights, int Stacked);

    [ThreadStatic] static Frame? _current;

    /// <summary>
    /// Makes <paramref name="weights"/> (one per layer, same order) the weights of the calls inside the returned scope;
    /// <paramref name="stacked"/> is S when each weight stacks S draws, 0 for one draw.
    /// </summary>
    public static Scope Use(IReadOnlyList<StochasticLayer> layers, IReadOnlyList<Tensor> weights, int stacked = 0)
    {
        if (layers.Count != weights.Count)
            throw new ArgumentException($"A draw of {weights.Count} weight tensors cannot serve {layers.Count} layers.");
        var map = new Dictionary<StochasticLayer, Tensor>(layers.Count, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < layers.Count; i++) map[layers[i]] = weights[i];
        var previous = _current;
        _current = new Frame(map, stacked);
        return new Scope(previous);
    }

    /// <summary>The weight of <paramref name="layer"/> in the current call and the number of stacked draws (0: one), or null outside any call.</summary>
    public static (Tensor Weight, int Stacked)? For(StochasticLayer layer)
        => _current is { } frame && frame.Weights.TryGetValue(layer, out var w) ? (w, frame.Stacked) : null;

    /// <summary>Restores the weights of the enclosing call (calls may nest, e.g. a model scored inside a training hook).</summary>
    public readonly struct Scope : IDisposable
    {
        readonly Frame? _previous;
        internal Scope(Frame? previous) => _previous = previous;
        public void Dispose() => _current = _previous;
    }
}
