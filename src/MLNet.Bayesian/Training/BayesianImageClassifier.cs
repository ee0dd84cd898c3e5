using MLNet.Bayesian.Data;
using MLNet.Bayesian.Ood;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>A trained network with what it needs to score images: input shape, normalisation, class names.</summary>
public sealed class BayesianImageClassifier : IDisposable
{
    internal BayesianImageClassifier(BayesianNetwork network, int channels, int height, int width, IReadOnlyList<string> classNames,
        float[] mean, float[] std, Device device, TrainingReport report)
    {
        Network = network; Channels = channels; Height = height; Width = width; ClassNames = classNames;
        NormalizeMean = mean; NormalizeStd = std; Device = device; Report = report;
    }

    /// <summary>The network.</summary>
    public BayesianNetwork Network { get; }
    /// <summary>Input channels.</summary>
    public int Channels { get; }
    /// <summary>Input height.</summary>
    public int Height { get; }
    /// <summary>Input width.</summary>
    public int Width { get; }
    /// <summary>Class names by index.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Normalisation mean per channel.</summary>
    public float[] NormalizeMean { get; }
    /// <summary>Normalisation std per channel.</summary>
    public float[] NormalizeStd { get; }
    /// <summary>Where the network lives.</summary>
    public Device Device { get; }
    /// <summary>How training went.</summary>
    public TrainingReport Report { get; }

    /// <summary>Values per image.</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>
    /// The Gaussians of the training images' features, one fit per member (one for every method but a deep ensemble),
    /// from which <see cref="PredictiveDistribution.FeatureDistance"/> is computed; null until fitted (the trainer fits
    /// them after the last stage, <see cref="FitFeatureGaussians"/>), and null again once the network has moved to
    /// another stage (its layers, and so its features, are new then).
    /// </summary>
    internal IReadOnlyList<FeatureGaussians>? FeatureGaussians => Network.Stage == _fittedStage ? _featureGaussians : null;

    IReadOnlyList<FeatureGaussians>? _featureGaussians;
    BayesianStage _fittedStage;

    /// <summary>The hooks that read the features (installed by the first fit).</summary>
    internal FeatureTaps? FeatureTaps { get; private set; }

    /// <summary><see cref="FeatureGaussians"/> on the model's device, made once per fit rather than per batch.</summary>
    Ood.FeatureGaussians.DeviceCopy[]? _featureFitsOnDevice;

    /// <summary>
    /// Fits <see cref="FeatureGaussians"/> on <paramref name="images"/> (the training images, or a subset of them): their
    /// features are read while they are scored with the draws (seed, s) the model scores with, averaged over each
    /// member's draws, as scoring averages them.
    /// </summary>
    internal void FitFeatureGaussians(ImageSet images, int samples, int seed, double shrinkage = Ood.FeatureGaussians.DefaultShrinkage)
    {
        if (images.Count < 2) throw new ArgumentException("At least two images are needed to fit the feature Gaussians.");
        _featureGaussians = null;
        DisposeFeatureFitsOnDevice();
        // Installed afresh: a fit of an earlier stage tapped layers that the conversion has since replaced.
        FeatureTaps?.Dispose();
        using (var scope = NewDisposeScope())
            FeatureTaps = FeatureTaps.Install(Network, ToInput(images.Image(0), 1));
        var features = Network.Members.Select(_ => new List<Tensor>()).ToArray();
        try
        {
            using var draws = new SeededDraws(Network, seed, Samples(samples));
            PredictBatches(images.Pixels, 256, keepSamples: false, draws.Count, draws, features);
            var fits = features.Select(f =>
            {
                using var all = cat(f);
                return Ood.FeatureGaussians.Fit(all, images.Labels, ClassNames.Count, shrinkage);
            }).ToArray();
            _featureFitsOnDevice = fits.Select(f => f.OnDevice(Device)).ToArray();
            _featureGaussians = fits;
            _fittedStage = Network.Stage;
        }
        finally
        {
            foreach (var list in features) list.ForEach(t => t.Dispose());
        }
    }

    /// <summary>
    /// Chooses the posterior scale by the NLL of <paramref name="validation"/> scored with the draws (seed, s) the model
    /// scores with (<see cref="PosteriorScaleFit"/>), and sets it (<see cref="BayesianNetwork.PosteriorScale"/>).
    /// Only for a Gaussian posterior (stage 1 or 3). <paramref name="stop"/> is called before each scoring of the set.
    /// </summary>
    public PosteriorScaleFit.Result FitPosteriorScale(ImageSet validation, int samples, int seed, Action? stop = null)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (Network.Stage is not (BayesianStage.MeanField or BayesianStage.Shared))
            throw new InvalidOperationException($"The network is in stage {Network.Stage}: only a Gaussian posterior (mean-field or 2DGBNN) has a spread to scale.");
        if (validation.Count == 0) throw new ArgumentException("The validation set is empty: the posterior scale is chosen by its NLL.", nameof(validation));
        var fit = PosteriorScaleFit.Fit(scale =>
        {
            stop?.Invoke();
            Network.PosteriorScale = scale;
            var prediction = Predict(validation.Pixels, samples, seed: seed);
            return ClassificationMetrics.Compute(prediction.Probabilities, validation.Labels, ClassNames.Count).Nll;
        });
        Network.PosteriorScale = fit.Scale;
        return fit;
    }

    /// <summary>
    /// Scores images (pixels in [0, 1], N x C x H x W flattened) with <paramref name="samples"/> posterior
    /// draws per batch; a deterministic network uses one, a deep ensemble its members (whatever the seed). Normalisation layers run in evaluation mode. With a
    /// <paramref name="seed"/>, draw s is the seeded draw (seed, s) (<see cref="BayesianNetwork.Draw"/>): the same
    /// weights for every batch, call and device, so a row's scores do not depend on its batch. Without one, every
    /// batch takes fresh draws from LibTorch's global generator. <paramref name="keepSamples"/> also returns the
    /// S per-sample probability vectors.
    /// </summary>
    public PredictiveDistribution Predict(ReadOnlySpan<float> pixels, int samples, int batchSize = 256, int? seed = null, bool keepSamples = false)
    {
        // A deep ensemble's draws (its members) do not depend on the seed, so it always runs all of them.
        if (seed is null && Network.Stage == BayesianStage.DeepEnsemble) seed = 0;
        if (seed is null) return PredictBatches(pixels, batchSize, keepSamples, Samples(samples), null);
        using var draws = new SeededDraws(Network, seed.Value, Samples(samples));
        return Predict(pixels, draws, batchSize, keepSamples);
    }

    /// <summary>Scores images with the given seeded draws (a scorer that serves many calls keeps them).</summary>
    internal PredictiveDistribution Predict(ReadOnlySpan<float> pixels, SeededDraws draws, int batchSize, bool keepSamples = false)
        => PredictBatches(pixels, batchSize, keepSamples, draws.Count, draws);

    int Samples(int samples)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), "at least one sample is needed");
        return Network.SampleCount(samples);
    }

    /// <summary>
    /// Scores in batches. With feature taps installed, each batch's features are read on the way (averaged over each
    /// member's draws): turned into <see cref="PredictiveDistribution.FeatureDistance"/> once fitted, and also handed out
    /// per member into <paramref name="featuresOut"/> (CPU tensors the caller disposes) when given.
    /// </summary>
    PredictiveDistribution PredictBatches(ReadOnlySpan<float> pixels, int batchSize, bool keepSamples, int samples, SeededDraws? draws,
        List<Tensor>[]? featuresOut = null)
    {
        if (pixels.Length % ImageSize != 0)
            throw new ArgumentException($"{pixels.Length} values are not a whole number of {Channels}x{Height}x{Width} images.");
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), "must be at least 1");
        int count = pixels.Length / ImageSize;
        if (count == 0) return PredictiveDistribution.Empty(ClassNames.Count, samples);
        Network.eval();
        var parts = new List<PredictiveDistribution>();
        using var noGrad = no_grad();
        for (int start = 0; start < count; start += batchSize)
        {
            using var pause = Network.ScalarSafeForward ? default : GcPause.Begin();
            using var scope = NewDisposeScope();
            int n = Math.Min(batchSize, count - start);
            var x = ToInput(pixels.Slice(start * ImageSize, n * ImageSize), n);
            using var capture = featuresOut is not null || FeatureGaussians is not null ? FeatureTaps?.Begin() : null;
            Tensor logits;   // [S, n, K]
            if (draws?.Stacked is { } stacked && samples * n <= MaxStackedRows(Device))
            {
                logits = Network.ForwardStacked(x, stacked, samples);
            }
            else
            {
                var perDraw = new Tensor[samples];
                for (int s = 0; s < samples; s++)
                {
                    if (draws is null) perDraw[s] = Network.call(x);
                    else using (var draw = draws.Get(s)) perDraw[s] = Network.Forward(x, draw.Draw);
                }
                logits = stack(perDraw);
            }
            var probabilities = nn.functional.softmax(logits, 2);
            var features = capture is null ? null : MemberFeatures(capture, n);
            if (featuresOut is not null)
                for (int m = 0; m < featuresOut.Length; m++) featuresOut[m].Add(features![m].detach().cpu().DetachFromDisposeScope());
            Tensor? distance = features is null || FeatureGaussians is null || _featureFitsOnDevice is not { } fitted ? null
                : stack(fitted.Select((fit, m) => fit.Distances(features[m])).ToArray()).mean(new long[] { 0 });
            parts.Add(PredictiveDistribution.FromSamples(probabilities, keepSamples, distance, logits));
        }
        return PredictiveDistribution.Concat(parts);
    }

    /// <summary>Each member's features of the batch's n images, averaged over the draws that member ran ([n, D] each).</summary>
    Tensor[] MemberFeatures(FeatureTaps.Capture capture, int n)
        => capture.Inputs.Select((inputs, m) =>
        {
            if (inputs.Count == 0) throw new InvalidOperationException($"Member {m}'s feature layer did not run while scoring.");
            var all = cat(inputs.ToArray());   // [draws x n, D]: stacked or one by one
            return all.view(-1, n, all.shape[1]).mean(new long[] { 0 });
        }).ToArray();

    /// <summary>
    /// Up to this many rows (S x images) a batch runs its S kept draws at once, as one grouped pass; above it, one draw
    /// at a time. On the CPU, measured on the small CNN at S = 30 on 2 cores: all at once wins on 1 to 2 images (227
    /// against 145 images/s for one), draws one at a time from 8 images on (309 against 146 at 256 images): the cores
    /// are busy either way and the grouped convolution is the slower kernel. On a GPU one pass of S x 256 rows keeps it
    /// busy where S passes of 256 rows each mostly wait on kernel launches, so a whole batch goes at once (at S = 30
    /// and 256 images, 7,680 rows: for the small CNN about 0.4 GB of activations).
    /// </summary>
    internal static int MaxStackedRows(Device device) => device.type == DeviceType.CPU ? CpuStackedRows : GpuStackedRows;

    internal const int CpuStackedRows = 160;
    internal const int GpuStackedRows = 8192;

    /// <summary>Scores a whole image set.</summary>
    public PredictiveDistribution Predict(ImageSet set, int samples) => Predict(set.Pixels, samples);

    /// <summary>Accuracy, NLL, ECE and Brier on a labelled set.</summary>
    public ClassificationMetrics Evaluate(ImageSet set, int samples)
    {
        var prediction = Predict(set, samples);
        return ClassificationMetrics.Compute(prediction.Probabilities, set.Labels, ClassNames.Count);
    }

    /// <summary>Copies pixels into a normalised N x C x H x W tensor on the model's device.</summary>
    internal Tensor ToInput(ReadOnlySpan<float> pixels, int n)
        => Normalize(tensor(pixels.ToArray(), new long[] { n, Channels, Height, Width }).to(Device), NormalizeMean, NormalizeStd);

    internal static Tensor Normalize(Tensor x, float[] mean, float[] std)
    {
        long c = x.shape[1];
        var m = tensor(Broadcast(mean, c, "NormalizeMean")).view(1, c, 1, 1).to(x.device);
        var s = tensor(Broadcast(std, c, "NormalizeStd")).view(1, c, 1, 1).to(x.device);
        return x.Minus(m) / s;
    }

    static float[] Broadcast(float[] values, long channels, string name)
    {
        if (values.Length == channels) return values;
        if (values.Length == 1) return Enumerable.Repeat(values[0], (int)channels).ToArray();
        throw new ArgumentException($"{name} has {values.Length} values; the images have {channels} channels.");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        FeatureTaps?.Dispose();
        DisposeFeatureFitsOnDevice();
        Network.Dispose();
    }

    void DisposeFeatureFitsOnDevice()
    {
        foreach (var copy in _featureFitsOnDevice ?? Array.Empty<Ood.FeatureGaussians.DeviceCopy>()) copy.Dispose();
        _featureFitsOnDevice = null;
    }
}
