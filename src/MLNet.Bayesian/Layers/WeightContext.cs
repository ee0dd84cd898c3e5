using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>
/// The weights of the Bayesian layers for the forward pass running on this thread. A draw belongs to one call,
/// not to the modules: two threads can run the same network with different draws at once, and nothing is left
/// behind in a module between calls.
/// </summary>
internal static class WeightContext
{
    [ThreadStatic] static Dictionary<StochasticLayer, Tensor>? _current;

    /// <summary>Makes <paramref name="weights"/> (one per layer, same order) the weights of the calls inside the returned scope.</summary>
    public static Scope Use(IReadOnlyList<StochasticLayer> layers, IReadOnlyList<Tensor> weights)
    {
        if (layers.Count != weights.Count)
            throw new ArgumentException($"A draw of {weights.Count} weight tensors cannot serve {layers.Count} layers.");
        var map = new Dictionary<StochasticLayer, Tensor>(layers.Count, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < layers.Count; i++) map[layers[i]] = weights[i];
        var previous = _current;
        _current = map;
        return new Scope(previous);
    }

    /// <summary>The weight of <paramref name="layer"/> in the current call, or null outside any.</summary>
    public static Tensor? For(StochasticLayer layer) => _current is { } map && map.TryGetValue(layer, out var w) ? w : null;

    /// <summary>Restores the weights of the enclosing call (calls may nest, e.g. a model scored inside a training hook).</summary>
    public readonly struct Scope : IDisposable
    {
        readonly Dictionary<StochasticLayer, Tensor>? _previous;
        internal Scope(Dictionary<StochasticLayer, Tensor>? previous) => _previous = previous;
        public void Dispose() => _current = _previous;
    }
}
