using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// The way of writing S seeded draws into an ONNX graph that suits any posterior whose draws are whole weight tensors
/// (mean-field, the hierarchical variant): each layer's S draws as one [S, weights] initializer, and draw s of a layer
/// Gather(s) reshaped to the weight's shape. One initializer per layer, never a network-wide tensor that every layer
/// slices: ONNX Runtime constant-folds the weight construction when a session starts, and folding 200 Slices of one
/// 42M-value tensor (ResNet-101) took 2-3 minutes and gigabytes at every save and load; per layer it takes seconds.
/// </summary>
internal static class OnnxDraws
{
    /// <summary>Draws (seed, s) for s &lt; <paramref name="samples"/> of <paramref name="posterior"/>; per draw, the graph value of every layer's weight.</summary>
    public static string[][] PerLayerSamples(OnnxGraphBuilder g, IWeightPosterior posterior, int seed, int samples, double scale)
    {
        float[][]? values = null;
        long[][]? shapes = null;
        using (no_grad())
            for (int s = 0; s < samples; s++)
            {
                using var scope = NewDisposeScope();
                using var noise = NoiseSource.Seeded(DrawSeeds.Of(seed, s), scale);
                var draw = posterior.Draw(noise);
                values ??= draw.Select(w => new float[samples * w.numel()]).ToArray();
                shapes ??= draw.Select(w => w.shape).ToArray();
                for (int i = 0; i < draw.Length; i++)
                {
                    var layer = draw[i].detach().cpu().contiguous().data<float>().ToArray();
                    Array.Copy(layer, 0, values[i], s * layer.Length, layer.Length);
                }
            }
        if (values is null || shapes is null) throw new ArgumentOutOfRangeException(nameof(samples), "at least one sample is needed");
        var perLayer = values.Select((v, i) => g.Initializer($"weight_samples_{i}", v, samples, v.Length / samples)).ToArray();
        return Enumerable.Range(0, samples).Select(s =>
        {
            string sample = g.Initializer("sample", new long[] { s });
            return perLayer.Select((table, i) => g.Node("Reshape", new[] { g.Node("Gather", new[] { table, sample }, ("axis", 0L)), g.Int64s("shape", shapes[i]) })).ToArray();
        }).ToArray();
    }
}
