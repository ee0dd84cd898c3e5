using static TorchSharp.torch;

namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// What S posterior samples say about N inputs: the mean class probabilities and the split of total
/// uncertainty (predictive entropy) into aleatoric (expected entropy) and epistemic (mutual information),
/// and how far each input's features lie from the training images' (<see cref="FeatureDistance"/>).
/// Entropies are in nats.
/// </summary>
public sealed class PredictiveDistribution
{
    readonly IReadOnlyDictionary<UncertaintyScore, float[]> _scores;

    PredictiveDistribution(int classes, float[] probabilities, IReadOnlyDictionary<UncertaintyScore, float[]> scores, int samples, float[]? sampleProbabilities)
    {
        Classes = classes;
        Probabilities = probabilities;
        Samples = samples;
        _scores = scores;
        SampleProbabilities = sampleProbabilities;
        Count = classes == 0 ? 0 : probabilities.Length / classes;
        foreach (var d in UncertaintyScores.Descriptors)
            if (!scores.TryGetValue(d.Score, out var values) || values.Length != Count)
                throw new ArgumentException($"The score {d.Score} has {(values is null ? "no values" : $"{values.Length} values")} for {Count} rows.", nameof(scores));
    }

    /// <summary>Per-sample probabilities, S x N x C row-major, when prediction was asked to keep them; else null.</summary>
    public float[]? SampleProbabilities { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <summary>Number of posterior samples averaged.</summary>
    public int Samples { get; }
    /// <summary>Number of inputs.</summary>
    public int Count { get; }
    /// <summary>Posterior-mean class probabilities, N x C.</summary>
    public float[] Probabilities { get; }

    /// <summary>The values of one uncertainty score, one per input (see <see cref="UncertaintyScores.Descriptors"/> for what each means).</summary>
    public float[] this[UncertaintyScore score] => _scores.TryGetValue(score, out var values) ? values
        : throw new ArgumentOutOfRangeException(nameof(score), score, "not an uncertainty score");

    /// <summary>The value of one uncertainty score for input <paramref name="index"/>.</summary>
    public float Value(UncertaintyScore score, int index) => this[score][index];

    /// <summary>H[mean p]: total uncertainty.</summary>
    public float[] PredictiveEntropy => this[UncertaintyScore.PredictiveEntropy];
    /// <summary>mean H[p_s]: aleatoric part.</summary>
    public float[] ExpectedEntropy => this[UncertaintyScore.ExpectedEntropy];
    /// <summary>H[mean p] - mean H[p_s]: epistemic part (never below 0).</summary>
    public float[] MutualInformation => this[UncertaintyScore.MutualInformation];
    /// <summary>Mahalanobis distance of the input's features to the nearest class of the training images (see
    /// <see cref="Ood.FeatureGaussians"/>): high for images unlike the training data. 0 when the model has no feature fit.</summary>
    public float[] FeatureDistance => this[UncertaintyScore.FeatureDistance];
    /// <summary>-log sum_k exp(logit_k), averaged over the samples: high when no class gets a large logit. 0 when built from probabilities alone.</summary>
    public float[] Energy => this[UncertaintyScore.Energy];
    /// <summary>max_c mean p: confidence of the predicted class.</summary>
    public float[] Confidence => this[UncertaintyScore.Confidence];
    /// <summary>arg max_c mean p.</summary>
    public int[] PredictedClass => _predictedClass ??= Enumerable.Range(0, Count).Select(i => ArgMax(Row(i))).ToArray();

    int[]? _predictedClass;

    /// <summary>Whether every probability and score of row <paramref name="index"/> is a finite number.</summary>
    public bool IsFinite(int index)
    {
        foreach (float p in Row(index)) if (!float.IsFinite(p)) return false;
        return _scores.Values.All(values => float.IsFinite(values[index]));
    }

    /// <summary>The mean probabilities of input <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Row(int index) => Probabilities.AsSpan(index * Classes, Classes);

    /// <summary>
    /// Computes the distribution from per-sample probabilities shaped S x N x C, every score by its descriptor; the logits
    /// (S x N x C) and the N feature distances where known.
    /// </summary>
    public static PredictiveDistribution FromSamples(Tensor sampleProbabilities, bool keepSamples = false, Tensor? featureDistance = null, Tensor? logits = null)
    {
        using var scope = NewDisposeScope();
        var p = sampleProbabilities.to(float64);
        var mean = p.mean(new long[] { 0 });
        var inputs = new ScoreInputs(p, mean, logits, featureDistance);
        var scores = UncertaintyScores.Descriptors.ToDictionary(d => d.Score, d => inputs.Of(d.Score).to(float32).cpu().data<float>().ToArray());
        return new PredictiveDistribution((int)p.shape[2], mean.to(float32).cpu().data<float>().ToArray(), scores, (int)p.shape[0],
            keepSamples ? sampleProbabilities.to(float32).cpu().contiguous().data<float>().ToArray() : null);
    }

    /// <summary>The distribution of no inputs.</summary>
    public static PredictiveDistribution Empty(int classes, int samples)
        => new(classes, Array.Empty<float>(), UncertaintyScores.Descriptors.ToDictionary(d => d.Score, _ => Array.Empty<float>()), samples, Array.Empty<float>());

    /// <summary>Concatenates distributions of consecutive batches.</summary>
    public static PredictiveDistribution Concat(IReadOnlyList<PredictiveDistribution> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("Nothing to concatenate.");
        if (parts.Count == 1) return parts[0];
        float[]? samples = null;
        if (parts.All(p => p.SampleProbabilities is not null))
        {
            // Interleave per sample: S x (N1 + N2 + ...) x C.
            int s = parts[0].Samples, c = parts[0].Classes, total = parts.Sum(p => p.Count);
            samples = new float[s * total * c];
            int offset = 0;
            foreach (var part in parts)
            {
                for (int k = 0; k < s; k++)
                    Array.Copy(part.SampleProbabilities!, k * part.Count * c, samples, (k * total + offset) * c, part.Count * c);
                offset += part.Count;
            }
        }
        return new PredictiveDistribution(parts[0].Classes, parts.SelectMany(p => p.Probabilities).ToArray(),
            UncertaintyScores.Descriptors.ToDictionary(d => d.Score, d => parts.SelectMany(p => p[d.Score]).ToArray()), parts[0].Samples, samples);
    }

    static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
