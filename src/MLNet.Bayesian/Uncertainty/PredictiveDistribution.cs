using MLNet.Bayesian.Torch;
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
    /// <summary>Creates the distribution from arrays (N x C row-major probabilities).</summary>
    public PredictiveDistribution(int classes, float[] probabilities, float[] predictiveEntropy, float[] expectedEntropy, int samples,
        float[]? featureDistance = null, float[]? energy = null)
    {
        if (energy is not null && energy.Length != predictiveEntropy.Length)
            throw new ArgumentException($"{energy.Length} energies for {predictiveEntropy.Length} rows.", nameof(energy));
        if (featureDistance is not null && featureDistance.Length != predictiveEntropy.Length)
            throw new ArgumentException($"{featureDistance.Length} feature distances for {predictiveEntropy.Length} rows.", nameof(featureDistance));
        Classes = classes;
        Probabilities = probabilities;
        PredictiveEntropy = predictiveEntropy;
        ExpectedEntropy = expectedEntropy;
        Samples = samples;
        FeatureDistance = featureDistance ?? new float[predictiveEntropy.Length];
        Energy = energy ?? new float[predictiveEntropy.Length];
    }

    /// <summary>Per-sample probabilities, S x N x C row-major, when prediction was asked to keep them; else null.</summary>
    public float[]? SampleProbabilities { get; private init; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <summary>Number of posterior samples averaged.</summary>
    public int Samples { get; }
    /// <summary>Number of inputs.</summary>
    public int Count => PredictiveEntropy.Length;
    /// <summary>Posterior-mean class probabilities, N x C.</summary>
    public float[] Probabilities { get; }
    /// <summary>H[mean p]: total uncertainty.</summary>
    public float[] PredictiveEntropy { get; }
    /// <summary>mean H[p_s]: aleatoric part.</summary>
    public float[] ExpectedEntropy { get; }
    /// <summary>H[mean p] - mean H[p_s]: epistemic part (never below 0).</summary>
    public float[] MutualInformation => _mutualInformation ??= PredictiveEntropy.Zip(ExpectedEntropy, (h, e) => Math.Max(h - e, 0f)).ToArray();
    /// <summary>
    /// Mahalanobis distance of the input's features to the nearest class of the training images (see
    /// <see cref="Ood.FeatureGaussians"/>): high for images unlike the training data. 0 when the model has no feature fit.
    /// </summary>
    public float[] FeatureDistance { get; }
    /// <summary>
    /// -log sum_k exp(logit_k), averaged over the samples (the free energy of Liu et al. 2020, "Energy-based out-of-distribution
    /// detection"): high when no class gets a large logit, as for images unlike the training data. 0 when built from probabilities alone.
    /// </summary>
    public float[] Energy { get; }
    /// <summary>max_c mean p: confidence of the predicted class.</summary>
    public float[] Confidence => _confidence ??= Enumerable.Range(0, Count).Select(i => Row(i)[ArgMax(Row(i))]).ToArray();
    /// <summary>arg max_c mean p.</summary>
    public int[] PredictedClass => _predictedClass ??= Enumerable.Range(0, Count).Select(i => ArgMax(Row(i))).ToArray();

    // Derived per-row values, computed on first use: callers index them row by row.
    float[]? _mutualInformation, _confidence;
    int[]? _predictedClass;

    /// <summary>A scalar statistic of row <paramref name="index"/> (not <see cref="PredictionStatistic.Probabilities"/>).</summary>
    public float Scalar(PredictionStatistic statistic, int index) => statistic switch
    {
        PredictionStatistic.PredictedClass => PredictedClass[index],
        PredictionStatistic.Confidence => Confidence[index],
        PredictionStatistic.PredictiveEntropy => PredictiveEntropy[index],
        PredictionStatistic.ExpectedEntropy => ExpectedEntropy[index],
        PredictionStatistic.MutualInformation => MutualInformation[index],
        PredictionStatistic.FeatureDistance => FeatureDistance[index],
        PredictionStatistic.Energy => Energy[index],
        _ => throw new ArgumentOutOfRangeException(nameof(statistic), statistic, "the probabilities are a vector: use Row"),
    };

    /// <summary>Whether every probability and entropy of row <paramref name="index"/> is a finite number.</summary>
    public bool IsFinite(int index)
    {
        foreach (float p in Row(index)) if (!float.IsFinite(p)) return false;
        return float.IsFinite(PredictiveEntropy[index]) && float.IsFinite(ExpectedEntropy[index]) && float.IsFinite(FeatureDistance[index]) && float.IsFinite(Energy[index]);
    }

    /// <summary>The mean probabilities of input <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> Row(int index) => Probabilities.AsSpan(index * Classes, Classes);

    /// <summary>Computes the distribution from per-sample probabilities shaped S x N x C (and the N feature distances and energies, when known).</summary>
    public static PredictiveDistribution FromSamples(Tensor sampleProbabilities, bool keepSamples = false, Tensor? featureDistance = null, Tensor? energy = null)
    {
        using var scope = NewDisposeScope();
        var p = sampleProbabilities.to(float64);
        long s = p.shape[0];
        var mean = p.mean(new long[] { 0 });
        var entropy = -(mean * ScalarSafeOps.ClampMin(mean, 1e-300).log()).sum(1);
        var expected = (-(p * ScalarSafeOps.ClampMin(p, 1e-300).log()).sum(2)).mean(new long[] { 0 });
        return new PredictiveDistribution((int)p.shape[2],
            mean.to(float32).cpu().data<float>().ToArray(),
            entropy.to(float32).cpu().data<float>().ToArray(), expected.to(float32).cpu().data<float>().ToArray(), (int)s,
            featureDistance?.to(float32).cpu().data<float>().ToArray(), energy?.to(float32).cpu().data<float>().ToArray())
        {
            SampleProbabilities = keepSamples ? sampleProbabilities.to(float32).cpu().contiguous().data<float>().ToArray() : null,
        };
    }

    /// <summary>The distribution of no inputs.</summary>
    public static PredictiveDistribution Empty(int classes, int samples)
        => new(classes, Array.Empty<float>(), Array.Empty<float>(), Array.Empty<float>(), samples) { SampleProbabilities = Array.Empty<float>() };

    /// <summary>Concatenates distributions of consecutive batches.</summary>
    public static PredictiveDistribution Concat(IReadOnlyList<PredictiveDistribution> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("Nothing to concatenate.");
        if (parts.Count == 1) return parts[0];
        float[]? samples = null;
        if (parts.All(p => p.SampleProbabilities is not null))
        {
            // Interleave per sample: S x (N1 + N2 + ...) x C.
            int s = parts[0].Samples, c = parts[0].Classes;
            samples = new float[s * parts.Sum(p => p.Count) * c];
            int offset = 0;
            foreach (var part in parts)
            {
                for (int k = 0; k < s; k++)
                    Array.Copy(part.SampleProbabilities!, k * part.Count * c, samples, (k * parts.Sum(p => p.Count) + offset) * c, part.Count * c);
                offset += part.Count;
            }
        }
        return new PredictiveDistribution(parts[0].Classes,
            parts.SelectMany(p => p.Probabilities).ToArray(),
            parts.SelectMany(p => p.PredictiveEntropy).ToArray(), parts.SelectMany(p => p.ExpectedEntropy).ToArray(), parts[0].Samples,
            parts.SelectMany(p => p.FeatureDistance).ToArray(), parts.SelectMany(p => p.Energy).ToArray())
        {
            SampleProbabilities = samples,
        };
    }

    static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
