using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Ood;

/// <summary>
/// Class-conditional Gaussians with one shared covariance over a network's features (the input of its last layer),
/// fitted on training images: the density model behind <see cref="Uncertainty.UncertaintyScore.FeatureDistance"/>
/// (Lee et al. 2018, "A simple unified framework for detecting out-of-distribution samples"; Mukhoti et al. 2023,
/// "Deep deterministic uncertainty"). An image's distance is the Mahalanobis distance of its features to the nearest
/// class mean, sqrt(min_c (f - mu_c)^T Sigma^-1 (f - mu_c)): about sqrt(D) for images like the training data, far more
/// for images the network has never seen, whatever class it then picks. The probabilities cannot show that: a softmax
/// can be confident far from every class.
/// <para>Immutable: stored whitened (W = C^-1 with Sigma = C C^T, lower triangular), so that the in-memory scorer and
/// the ONNX graph compute the same d_c^2 = |W f|^2 - 2 (W f)^T (W mu_c) + |W mu_c|^2 from the same numbers.</para>
/// </summary>
internal sealed class FeatureGaussians
{
    /// <summary>Relative ridge added to the covariance by default: this times its mean variance, on the diagonal.</summary>
    public const double DefaultShrinkage = 1e-3;

    FeatureGaussians(int dimension, float[] whitening, float[] whitenedMeans, float[] meanNorms, int[] classes, int fitCount)
    {
        Dimension = dimension; Whitening = whitening; WhitenedMeans = whitenedMeans; WhitenedMeanNorms = meanNorms;
        FittedClasses = classes; FitCount = fitCount;
    }

    /// <summary>Feature dimension D.</summary>
    public int Dimension { get; }
    /// <summary>W = C^-1, D x D row-major (lower triangular).</summary>
    public float[] Whitening { get; }
    /// <summary>W mu_c of every fitted class, one row of D each (in <see cref="FittedClasses"/> order).</summary>
    public float[] WhitenedMeans { get; }
    /// <summary>|W mu_c|^2 of every fitted class.</summary>
    public float[] WhitenedMeanNorms { get; }
    /// <summary>The class indices that had training images (a class without any has no mean).</summary>
    public int[] FittedClasses { get; }
    /// <summary>Number of images fitted.</summary>
    public int FitCount { get; }

    /// <summary>Rebuilds a fit from its stored numbers (checked for shape and finiteness).</summary>
    public static FeatureGaussians FromStored(int dimension, float[] whitening, float[] whitenedMeans, int[] classes, int fitCount)
    {
        if (dimension < 1 || whitening.Length != dimension * dimension || classes.Length == 0 || whitenedMeans.Length != classes.Length * dimension)
            throw new ArgumentException($"A feature fit of dimension {dimension} needs {dimension * dimension} whitening values and {dimension} per class; " +
                                        $"got {whitening.Length} and {whitenedMeans.Length} for {classes.Length} classes.");
        if (whitening.Concat(whitenedMeans).Any(v => !float.IsFinite(v))) throw new ArgumentException("A feature fit holds values that are not finite numbers.");
        var norms = new float[classes.Length];
        for (int c = 0; c < classes.Length; c++)
        {
            double sum = 0;
            for (int j = 0; j < dimension; j++) sum += (double)whitenedMeans[c * dimension + j] * whitenedMeans[c * dimension + j];
            norms[c] = (float)sum;
        }
        return new FeatureGaussians(dimension, whitening, whitenedMeans, norms, classes, fitCount);
    }

    /// <summary>
    /// Fits the class means and the pooled within-class covariance of <paramref name="features"/> (N x D, any device,
    /// computed in float64) with <paramref name="labels"/> in 0..<paramref name="classes"/>-1. The covariance gets a ridge
    /// of <paramref name="shrinkage"/> times its mean variance, so that features that never vary in training (dead
    /// units) give a finite distance.
    /// </summary>
    public static FeatureGaussians Fit(Tensor features, IReadOnlyList<int> labels, int classes, double shrinkage = DefaultShrinkage)
    {
        if (features.dim() != 2) throw new ArgumentException($"Features must be N x D, not [{string.Join(", ", features.shape)}].");
        long n = features.shape[0], d = features.shape[1];
        if (n != labels.Count) throw new ArgumentException($"{n} feature rows but {labels.Count} labels.");
        if (n < 2) throw new ArgumentException("At least two images are needed to fit the feature Gaussians.");
        if (!(shrinkage > 0)) throw new ArgumentOutOfRangeException(nameof(shrinkage), shrinkage, "must be above 0");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var f = features.detach().to(float64).cpu();
        if (!f.isfinite().all().item<bool>()) throw new ArgumentException("The features hold values that are not finite numbers.");
        var present = labels.Distinct().OrderBy(c => c).ToArray();
        if (present.Any(c => c < 0 || c >= classes)) throw new ArgumentException($"Labels must be 0..{classes - 1}.");
        var y = tensor(labels.Select(l => (long)Array.IndexOf(present, l)).ToArray());
        var oneHot = nn.functional.one_hot(y, present.Length).to(float64);   // [N, K]
        var means = oneHot.T.matmul(f) / oneHot.sum(new long[] { 0 }).unsqueeze(1);
        var centred = f - means.index_select(0, y);
        var covariance = centred.T.matmul(centred) / n;
        double ridge = shrinkage * Math.Max(covariance.diagonal().mean().item<double>(), 1e-12);
        covariance = covariance + eye(d, dtype: float64) * ridge;
        var cholesky = linalg.cholesky(covariance);
        var whitening = linalg.solve_triangular(cholesky, eye(d, dtype: float64), upper: false);
        var whitenedMeans = means.matmul(whitening.T);
        return FromStored((int)d, ToFloats(whitening), ToFloats(whitenedMeans), present, (int)n);
    }

    /// <summary>The distance of one feature vector, in double: the reference the tensor code is tested against.</summary>
    public double Distance(ReadOnlySpan<float> feature)
    {
        if (feature.Length != Dimension) throw new ArgumentException($"The feature vector has {feature.Length} values; the fit has {Dimension}.");
        var z = new double[Dimension];
        for (int i = 0; i < Dimension; i++)
        {
            double sum = 0;
            for (int j = 0; j <= i; j++) sum += (double)Whitening[i * Dimension + j] * feature[j];
            z[i] = sum;
        }
        double best = double.PositiveInfinity;
        for (int c = 0; c < FittedClasses.Length; c++)
        {
            double d2 = 0;
            for (int j = 0; j < Dimension; j++) { double diff = z[j] - WhitenedMeans[c * Dimension + j]; d2 += diff * diff; }
            best = Math.Min(best, d2);
        }
        return Math.Sqrt(best);
    }

    /// <summary>
    /// The distances of N feature vectors (N x D, float32 on any device), as the ONNX graph computes them: the squared
    /// distance by expansion, clamped at 0, its minimum over classes, then the square root. Returns [N].
    /// </summary>
    public Tensor Distances(Tensor features)
    {
        using var onDevice = OnDevice(features.device);
        return onDevice.Distances(features);
    }

    /// <summary>The fit's numbers as tensors on <paramref name="device"/>, for a scorer that computes many batches (dispose it after).</summary>
    internal DeviceCopy OnDevice(Device device) => new(this, device);

    /// <summary>The whitening, the whitened means and their norms on one device; read-only, so any number of threads may use it.</summary>
    internal sealed class DeviceCopy : IDisposable
    {
        readonly Tensor _whiteningT, _meansT, _norms;

        internal DeviceCopy(FeatureGaussians fit, Device device)
        {
            using var scope = NewDisposeScope();
            _whiteningT = tensor(fit.Whitening, new long[] { fit.Dimension, fit.Dimension }).to(device).T.contiguous().DetachFromDisposeScope();
            _meansT = tensor(fit.WhitenedMeans, new long[] { fit.FittedClasses.Length, fit.Dimension }).to(device).T.contiguous().DetachFromDisposeScope();
            _norms = tensor(fit.WhitenedMeanNorms).to(device).DetachFromDisposeScope();
        }

        /// <summary>See <see cref="FeatureGaussians.Distances"/>.</summary>
        public Tensor Distances(Tensor features)
        {
            var z = features.to(float32).matmul(_whiteningT);
            // Scalar-free arithmetic (see ScalarSafeOps): this runs per scoring batch, outside any GC pause.
            using var two = ScalarSafeOps.Constant(2.0, z);
            var squared = z.Square().sum(1, keepdim: true).Minus(z.matmul(_meansT).mul(two)).Plus(_norms);
            return ScalarSafeOps.ClampMin(squared, 0).min(1).values.sqrt();
        }

        public void Dispose()
        {
            _whiteningT.Dispose();
            _meansT.Dispose();
            _norms.Dispose();
        }
    }

    static float[] ToFloats(Tensor t) => t.to(float32).contiguous().data<float>().ToArray();
}
