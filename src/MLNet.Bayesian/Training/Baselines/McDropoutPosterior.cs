using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// MC dropout as a posterior over weights. Dropout on the input of a Linear layer (features) or a Conv2d (whole
/// channels) equals the layer's weight with the matching input columns (input channels) zeroed and the rest scaled
/// by 1 / (1 - p): y = W (m * x) = (W diag(m)) x, and a convolution is linear in each input channel. So a draw masks
/// the trained weights along dimension 1, one mask per layer, and the network scores, stacks and exports it like any
/// other posterior draw. A layer with rate 0 (the first, whose input is the pixels) keeps its weight.
/// </summary>
internal sealed class McDropoutPosterior : IWeightPosterior
{
    readonly IReadOnlyList<StochasticLayer> _layers;
    readonly double[] _rates;

    public McDropoutPosterior(IReadOnlyList<StochasticLayer> layers, IReadOnlyList<double> rates)
    {
        if (layers.Count != rates.Count) throw new ArgumentException($"{rates.Count} dropout rates for {layers.Count} layers.");
        _layers = layers;
        _rates = rates.ToArray();
    }

    /// <summary>The dropout rate of each layer's input, in layer order.</summary>
    public IReadOnlyList<double> Rates => _rates;

    public Tensor[] Draw(NoiseSource noise)
    {
        var masks = DrawMasks(noise);
        return _layers.Select((layer, i) => masks[i] is Tensor mask ? layer.WeightMu!.mul(mask) : layer.WeightMu!.alias()).ToArray();
    }

    /// <summary>MC dropout trains by its dropout alone: no KL term.</summary>
    public Tensor KL(double priorSigma) => zeros(1).squeeze();

    /// <summary>
    /// Each layer's trained weight once and, for a layer whose input is dropped, its S masks ([S, in]); draw s is
    /// Mul(weight, mask s), the product <see cref="Draw"/> computes, so both score alike to the bit of the weights. S
    /// masked copies of every weight made the saved model S times the deterministic one (11.5 MB at S = 30 for the small
    /// CNN). Masks are uniform draws, so <paramref name="scale"/> plays no part.
    /// </summary>
    public string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples, double scale)
    {
        var weights = new string[_layers.Count];
        var tables = new string?[_layers.Count];
        var maskShapes = new long[]?[_layers.Count];
        using (no_grad())
        {
            var masks = new List<float>?[_layers.Count];
            for (int s = 0; s < samples; s++)
            {
                using var scope = NewDisposeScope();
                using var noise = NoiseSource.Seeded(DrawSeeds.Of(seed, s));
                var drawn = DrawMasks(noise);
                for (int i = 0; i < _layers.Count; i++)
                {
                    if (drawn[i] is not Tensor mask) continue;
                    // The shape one mask has in the draw, taken from the mask itself, so the graph broadcasts it as the draw does.
                    maskShapes[i] = mask.shape;
                    (masks[i] ??= new List<float>()).AddRange(mask.cpu().data<float>().ToArray());
                }
            }
            for (int i = 0; i < _layers.Count; i++)
            {
                using var scope = NewDisposeScope();
                weights[i] = g.Initializer($"weight_{i}", _layers[i].WeightMu!.detach().cpu().contiguous().data<float>().ToArray(), _layers[i].WeightShape);
                if (masks[i] is { } values) tables[i] = g.Initializer($"dropout_masks_{i}", values.ToArray(), samples, values.Count / samples);
            }
        }
        return Enumerable.Range(0, samples).Select(s =>
        {
            string sample = g.Initializer("sample", new long[] { s });
            return Enumerable.Range(0, _layers.Count).Select(i => tables[i] is not string table ? weights[i]
                : g.Node("Mul", new[] { weights[i], g.Node("Reshape", new[] { g.Node("Gather", new[] { table, sample }, ("axis", 0L)), g.Int64s("shape", maskShapes[i]!) }) })).ToArray();
        }).ToArray();
    }

    /// <summary>
    /// The masks of one draw, one per layer in layer order ([1, in, 1, ...], broadcast over the weight), null for a
    /// layer with rate 0. <see cref="Draw"/> multiplies them in; the saved model stores them beside one copy of the
    /// weights (BayesianOnnxExport), S masks of a layer's inputs instead of S masked weights.
    /// </summary>
    public Tensor?[] DrawMasks(NoiseSource noise) => _layers.Select((layer, i) => Mask(layer, _rates[i], noise)).ToArray();

    static Tensor? Mask(StochasticLayer layer, double rate, NoiseSource noise)
    {
        if (rate == 0) return null;
        var weight = layer.WeightMu!;
        var shape = Enumerable.Repeat(1L, (int)weight.dim()).ToArray();
        shape[1] = weight.shape[1];
        return DropoutMask.Draw(shape, rate, noise, weight);
    }
}
