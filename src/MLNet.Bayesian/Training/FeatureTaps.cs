using MLNet.Bayesian.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// Reads a network's features, the input of its last layer, while it scores: a forward pre-hook on the last
/// Conv2d/Linear (plain or Bayesian) of each member, found by running one image and seeing which such layer runs last.
/// The hooks pass everything through unless <see cref="Begin"/> has opened a capture on the calling thread, so training
/// and other threads scoring the same model see no difference, and several threads may capture at once.
/// A Linear layer's input [N, ..., D] is averaged over its middle dimensions, a convolution's [N, C, ...] over its
/// spatial ones: the features are always N x D.
/// </summary>
internal sealed class FeatureTaps : IDisposable
{
    [ThreadStatic] static Capture? t_active;

    readonly List<Action> _removers = new();

    readonly long[][] _pooled;

    FeatureTaps(IReadOnlyList<nn.Module> layers, long[][] pooled)
    {
        Layers = layers;
        _pooled = pooled;
    }

    /// <summary>The tapped layer of each member (one for every network but a deep ensemble).</summary>
    public IReadOnlyList<nn.Module> Layers { get; }

    /// <summary>
    /// The dimensions of member m's tapped input that are averaged away: a convolution's spatial ones, a Linear layer's
    /// middle ones; none for an N x D input. The in-memory features and the ONNX graph both pool over these.
    /// </summary>
    public IReadOnlyList<long> PooledDimensions(int member) => _pooled[member];

    /// <summary>Finds and hooks the last layer of every member of <paramref name="network"/>, running <paramref name="probe"/> (one normalised image) through it.</summary>
    public static FeatureTaps Install(BayesianNetwork network, Tensor probe)
    {
        var layers = new List<nn.Module>();
        var ranks = new List<int>();
        using (no_grad())
        using (NewDisposeScope())
        {
            bool training = network.training;
            network.eval();
            try
            {
                for (int m = 0; m < network.Members.Count; m++)
                {
                    var (layer, rank) = LastLayer(network, m, probe);
                    layers.Add(layer);
                    ranks.Add(rank);
                }
            }
            finally
            {
                network.train(training);
            }
        }
        // Of an input of rank r, a convolution pools dimensions 2..r-1 and a Linear layer 1..r-2.
        var pooled = layers.Select((layer, m) => Enumerable.Range(IsConvolution(layer) ? 2 : 1, ranks[m] - 2).Select(d => (long)d).ToArray()).ToArray();
        var taps = new FeatureTaps(layers, pooled);
        for (int m = 0; m < layers.Count; m++)
        {
            int member = m;
            var hook = ((nn.Module<Tensor, Tensor>)layers[m]).register_forward_pre_hook((_, x) =>
            {
                // A new handle on the input (or its pooled features): TorchSharp's Sequential disposes a layer's input once the next layer has run.
                if (t_active is { } capture && ReferenceEquals(capture.Owner, taps)) capture.Add(member, taps.Features(member, x.detach()));
                return x;
            });
            taps._removers.Add(hook.remove);
        }
        return taps;
    }

    /// <summary>Starts capturing on this thread (until the capture is disposed); captures may nest.</summary>
    public Capture Begin() => new(this);

    /// <summary>The N x D features of a layer input (the input itself when it is N x D).</summary>
    public Tensor Features(int member, Tensor input) => _pooled[member].Length == 0 ? input : input.mean(_pooled[member]);

    /// <summary>The Conv2d or Linear layer of member <paramref name="member"/> that runs last, and the rank of its input.</summary>
    static (nn.Module Layer, int InputRank) LastLayer(BayesianNetwork network, int member, Tensor probe)
    {
        var module = network.Members[member];
        var candidates = module.modules().Where(IsWeightLayer).Cast<nn.Module<Tensor, Tensor>>().ToList();
        if (candidates.Count == 0) throw new NotSupportedException($"The network ({module.GetType().Name}) has no Conv2d or Linear layer whose input could serve as its features.");
        nn.Module? last = null;
        int rank = 0;
        var removers = candidates.Select(layer => layer.register_forward_hook((self, x, y) => { last = self; rank = (int)x.dim(); return y; })).ToList();
        try
        {
            using var draw = network.Draw(0, member);
            network.Forward(probe, draw);
        }
        finally
        {
            removers.ForEach(r => r.remove());
        }
        return (last ?? throw new NotSupportedException($"No Conv2d or Linear layer of the network ({module.GetType().Name}) ran on an image."), rank);
    }

    static bool IsWeightLayer(nn.Module m) => m is Conv2d or Linear or StochasticLayer;

    static bool IsConvolution(nn.Module m) => m is Conv2d or BayesianConv2d;

    /// <inheritdoc />
    public void Dispose()
    {
        _removers.ForEach(r => r());
        _removers.Clear();
    }

    /// <summary>The features captured on one thread, per member, in the order the forward passes ran.</summary>
    internal sealed class Capture : IDisposable
    {
        readonly Capture? _previous;

        internal Capture(FeatureTaps owner)
        {
            Owner = owner;
            Inputs = owner.Layers.Select(_ => new List<Tensor>()).ToArray();
            _previous = t_active;
            t_active = this;
        }

        public FeatureTaps Owner { get; }
        public List<Tensor>[] Inputs { get; }

        internal void Add(int member, Tensor input) => Inputs[member].Add(input);

        public void Dispose() => t_active = _previous;
    }
}
