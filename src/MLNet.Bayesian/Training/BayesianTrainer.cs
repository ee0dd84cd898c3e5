using System.Diagnostics;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training.Optimization;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// Runs 2DGBNN end to end on an <see cref="ImageSet"/>: stage 0 (deterministic), stage 1 (mean-field VI,
/// recording gradient magnitudes over its last epoch), stage 2 (shared posterior construction) and
/// stage 3 (VI on the shared posterior). Independent of ML.NET. <see cref="TrainerOptions.Method"/> picks the
/// MC-dropout or deep-ensemble baseline instead: each method is a <c>TrainingMethod</c> (Training/Methods), picked by one factory.
/// </summary>
public sealed partial class BayesianTrainer
{
    readonly TrainerOptions _options;
    readonly Action<string> _log;
    readonly CancellationToken _cancel;
    readonly Func<bool>? _stopRequested;

    /// <summary>
    /// Creates a trainer; <paramref name="log"/> receives one line per epoch and stage. Training stops with an
    /// <see cref="OperationCanceledException"/> at the next batch once <paramref name="cancel"/> is cancelled or
    /// <paramref name="stopRequested"/> returns true (polled on the training thread: a polling timer thread
    /// would allocate concurrently with LibTorch calls, see ScalarSafeOps).
    /// </summary>
    public BayesianTrainer(TrainerOptions options, Action<string>? log = null, CancellationToken cancel = default, Func<bool>? stopRequested = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
        _log = log ?? (_ => { });
        _cancel = cancel;
        _stopRequested = stopRequested;
    }

    /// <summary>
    /// Called after each stage, before the next one changes the network, with the classifier in that stage's
    /// state: evaluate or save the deterministic (stage 0) and mean-field (stage 1) baselines of the same run.
    /// Training goes on with the same classifier afterwards, so do not dispose it here. LibTorch's global random
    /// state is restored after the call, so scoring here (even unseeded) leaves the rest of training unchanged.
    /// </summary>
    public Action<BayesianImageClassifier, BayesianStage>? StageCompleted { get; set; }

    /// <summary>
    /// For ablations and tests that compare later stages from one stage 0: when set, stage 0 is not trained and the
    /// network takes these weights instead (the state dict of a stage-0 network from the same factory and data shape).
    /// </summary>
    internal IReadOnlyDictionary<string, Tensor>? DeterministicState { get; set; }

    /// <summary>
    /// Called on the training thread after every batch with where the run stands and an estimate of the time left:
    /// for progress bars and logs. Keep it short; it runs between LibTorch calls.
    /// </summary>
    public Action<TrainingProgress>? Progress { get; set; }

    // The steps of the stage that is running: the stage-1 scale rate depends on them (TrainerOptions.MeanFieldSigmaTravel).
    long _stageSteps;

    /// <summary>For tests: called on the training thread after every backward, before the optimiser steps.</summary>
    internal Action<BayesianNetwork>? AfterBackward { get; set; }

    Stopwatch _runClock = new();
    long _batchesDone, _batchesPlanned;

    /// <summary>The options this trainer was made with (validated).</summary>
    internal TrainerOptions Options => _options;

    /// <summary>Writes a line to the trainer's log.</summary>
    internal void Log(string line) => _log(line);

    /// <summary>How many batches the whole run will take, for progress: a method says so before it trains.</summary>
    internal void PlanBatches(long batches) => _batchesPlanned = batches;

    internal void OnStageCompleted(BayesianImageClassifier classifier, BayesianStage stage)
    {
        if (StageCompleted is null) return;
        using var state = random.get_rng_state();
        try
        {
            StageCompleted(classifier, stage);
        }
        finally
        {
            random.set_rng_state(state);
        }
    }

    void ThrowIfStopped()
    {
        _cancel.ThrowIfCancellationRequested();
        if (_stopRequested?.Invoke() == true) throw new OperationCanceledException("Training was stopped on request.");
    }

    /// <summary>
    /// Trains through the configured stages, then fits the Gaussians of the network's features on the training images
    /// (<see cref="TrainerOptions.FeatureFitImages"/>), and returns the classifier.
    /// </summary>
    public BayesianImageClassifier Fit(NetworkFactory factory, ImageSet train, ImageSet? validation = null, Device? device = null)
    {
        var classifier = FitStages(factory, train, validation, device);
        try
        {
            bool rescaled = FitPosteriorScale(classifier, validation);
            if (KeepStage0IfBetter(ref classifier, factory, train, validation, device ?? CPU)) rescaled = true;
            bool featuresFitted = FitFeatureGaussians(classifier, train);
            // The review rule and the conformal sets are fitted on these rows: score them as the finished model does.
            if ((rescaled || featuresFitted) && validation is not null && classifier.Report.FinalValidation is not null)
            {
                var prediction = classifier.Predict(validation.Pixels, SamplesFor(classifier.Network.Stage), seed: _options.Seed ?? 0);
                classifier.Report.FinalValidation = ScoredRows.From(prediction, validation.Labels);
            }
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
        finally
        {
            DisposeStage0Weights();
        }
    }

    // Stage 0's weights (CPU copies) while later stages train, for KeepStage0IfBetter; null when not kept.
    Dictionary<string, Tensor>? _stage0Weights;

    void DisposeStage0Weights()
    {
        foreach (var t in _stage0Weights?.Values ?? Enumerable.Empty<Tensor>()) t.Dispose();
        _stage0Weights = null;
    }

    /// <summary>
    /// Compares the finished model with stage 0 on the validation set (<see cref="TrainerOptions.WhenWorseThanStage0"/>): warns
    /// when it is worse by the margins and, by default, replaces it with stage 0's network. True when it was replaced.
    /// </summary>
    bool KeepStage0IfBetter(ref BayesianImageClassifier classifier, NetworkFactory factory, ImageSet train, ImageSet? validation, Device device)
    {
        var report = classifier.Report;
        if (_stage0Weights is null || validation is null || classifier.Network.Stage == BayesianStage.Deterministic
            || report.Stages.FirstOrDefault(s => s.Stage == BayesianStage.Deterministic)?.Validation is not { } first) return false;
        ThrowIfStopped();
        var stage = classifier.Network.Stage;
        var prediction = classifier.Predict(validation.Pixels, SamplesFor(stage), seed: _options.Seed ?? 0);
        var final = ClassificationMetrics.Compute(prediction.Probabilities, validation.Labels, classifier.ClassNames.Count);
        // At least two images' worth: on a few dozen validation images one image is several points.
        double accuracyMargin = Math.Max(_options.Stage0AccuracyMargin, 2.0 / validation.Count);
        bool lostAccuracy = final.Accuracy < first.Accuracy - accuracyMargin - 1e-12;
        // A model that is clearly more accurate is not worse for a higher NLL (it is warned about, not replaced).
        bool lostNll = final.Nll > first.Nll * (1 + _options.Stage0NllMargin) && !(final.Accuracy > first.Accuracy + accuracyMargin);
        if (!lostAccuracy && !lostNll) return false;
        string what = $"warning: the finished {stage} model is worse on the {validation.Count} validation images than stage 0 was: accuracy {final.Accuracy:P2} " +
                      $"against {first.Accuracy:P2}, NLL {final.Nll:F4} against {first.Nll:F4}. Likely: a posterior too wide for this much data " +
                      $"(lower {nameof(TrainerOptions.KLWeight)} or {nameof(TrainerOptions.PriorSigma)}), or a rate too high for it " +
                      $"({nameof(TrainerOptions.BayesianLearningRate)}, {nameof(TrainerOptions.MeanFieldSigmaTravel)}, {nameof(TrainerOptions.SharedLearningRate)}, " +
                      $"{nameof(TrainerOptions.SharedScaleLearningRate)}).";
        if (_options.WhenWorseThanStage0 == WorseThanStage0.Warn)
        {
            _log(what + $" Kept as it is ({nameof(TrainerOptions.WhenWorseThanStage0)} = {WorseThanStage0.Warn}).");
            return false;
        }
        _log(what + $" The model is stage 0's deterministic network ({nameof(TrainerOptions.WhenWorseThanStage0)} = {WorseThanStage0.KeepStage0}; " +
             $"{WorseThanStage0.Warn} keeps the {stage} model): it has no epistemic uncertainty, so MutualInformation is 0.");
        var replacement = NewClassifier(factory, train, device, report, _options.Seed ?? 0);
        try
        {
            replacement.Network.load_state_dict(_stage0Weights);
        }
        catch
        {
            replacement.Dispose();
            throw;
        }
        classifier.Dispose();
        classifier = replacement;
        report.KeptStage0Because = $"{stage}: validation accuracy {final.Accuracy:P2} (stage 0: {first.Accuracy:P2}), NLL {final.Nll:F4} (stage 0: {first.Nll:F4})";
        report.PosteriorScale = null;
        return true;
    }

    /// <summary>
    /// Sets the scale the model scores with (<see cref="TrainerOptions.PosteriorScale"/>): the given number, or the one
    /// with the lowest validation NLL. True when the scale is not 1 (the model's scores changed).
    /// </summary>
    bool FitPosteriorScale(BayesianImageClassifier classifier, ImageSet? validation)
    {
        var network = classifier.Network;
        if (network.Stage is not (BayesianStage.MeanField or BayesianStage.Shared)) return false;
        if (_options.PosteriorScale is double given)
        {
            network.PosteriorScale = given;
            classifier.Report.PosteriorScale = new PosteriorScaleFit.Result(given, double.NaN, double.NaN, Array.Empty<(double, double)>());
            if (given != 1) _log($"posterior scale: {given:G4} (given); the model scores with its standard deviations times {given:G4}");
            return given != 1;
        }
        if (validation is null) return false;
        ThrowIfStopped();
        var clock = Stopwatch.StartNew();
        var fit = classifier.FitPosteriorScale(validation, SamplesFor(network.Stage), _options.Seed ?? 0, ThrowIfStopped);
        classifier.Report.PosteriorScale = fit;
        _log($"posterior scale: {fit.Scale:G4}, validation NLL {fit.NllAtOne:F4} at 1 (as trained) -> {fit.Nll:F4}; tried " +
             string.Join(", ", fit.Tried.Select(t => $"{t.Scale:G3} ({t.Nll:F4})")) + $" ({clock.Elapsed.TotalSeconds:F1} s)");
        return fit.Scale != 1;
    }

    /// <summary>
    /// Fits the feature Gaussians of a trained classifier on up to <see cref="TrainerOptions.FeatureFitImages"/> training
    /// images, with the draws the model scores with. True when it ran (the FeatureDistance column changed).
    /// </summary>
    bool FitFeatureGaussians(BayesianImageClassifier classifier, ImageSet train)
    {
        if (_options.FeatureFitImages == 0) return false;
        ThrowIfStopped();
        var clock = Stopwatch.StartNew();
        int seed = _options.Seed ?? 0;
        var images = FeatureFitSubset(train, _options.FeatureFitImages, seed);
        classifier.FitFeatureGaussians(images, SamplesFor(classifier.Network.Stage), seed);
        var fit = classifier.FeatureGaussians![0];
        _log($"feature distance: class Gaussians of the {fit.Dimension} features of the last layer's input fitted on {images.Count:N0} training images " +
             $"({clock.Elapsed.TotalSeconds:F1} s)");
        return true;
    }

    /// <summary>The training images the feature Gaussians are fitted on: all of them, or a seeded random subset of <paramref name="count"/>.</summary>
    internal static ImageSet FeatureFitSubset(ImageSet train, int count, int seed)
    {
        if (train.Count <= count) return train;
        var order = Enumerable.Range(0, train.Count).ToArray();
        new Random(seed).Shuffle(order);
        return train.Select(order.Take(count).Order().ToArray());
    }

    /// <summary>Trains through the configured stages.</summary>
    BayesianImageClassifier FitStages(NetworkFactory factory, ImageSet train, ImageSet? validation, Device? device)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(train);
        _log(LibTorchRuntime.EnsureLoaded());
        if (train.Count == 0) throw new ArgumentException("The training set is empty.");
        if (train.Labels.Distinct().Count() < 2)
            throw new ArgumentException($"The training set holds a single class ('{train.ClassNames[train.Labels[0]]}'); a classifier needs at least two.");
        _options.Validate();
        CheckFinite(train, "training");
        if (validation is not null) CheckFinite(validation, "validation");
        device ??= CPU;
        int seed = _options.Seed ?? 0;
        var rng = new Random(seed);
        _runClock = Stopwatch.StartNew();
        _batchesDone = 0;
        return TrainingMethod.For(_options.Method).Fit(this, new MethodInputs(factory, train, validation, device, seed, rng));
    }

    /// <summary>2DGBNN: stage 0, then (unless MeanFieldEpochs is 0) stages 1 to 3, the stage-0 guard and the posterior scale.</summary>
    internal BayesianImageClassifier FitTwoDGbnn(MethodInputs inputs)
    {
        var (factory, train, validation, device, seed, rng) = inputs;
        _batchesPlanned = (long)StepsPerEpoch(train) * (_options.DeterministicEpochs + Math.Max(0, _options.MeanFieldEpochs) +
            (_options.MeanFieldEpochs > 0 && !_options.StopAfterMeanField ? _options.SharedEpochs : 0));
        var classifier = NewClassifier(factory, train, device, new TrainingReport(), seed);
        var (network, report) = (classifier.Network, classifier.Report);
        try
        {
            if (DeterministicState is null)
            {
                RunStage(classifier, BayesianStage.Deterministic, _options.DeterministicEpochs, _options.LearningRate, train, validation, rng, report, null, null);
                OnStageCompleted(classifier, BayesianStage.Deterministic);
                if (validation is not null && _options.MeanFieldEpochs > 0)
                    _stage0Weights = network.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().clone().DetachFromDisposeScope());
            }
            else
            {
                network.load_state_dict(new Dictionary<string, Tensor>(DeterministicState));
                _log("stage 0: skipped, the network took the given stage-0 weights");
            }
            if (_options.MeanFieldEpochs <= 0) return classifier;

            network.ConvertToMeanField(_options.InitialSigma);
            report.BayesianWeights = network.BayesianWeightCount;
            report.MeanFieldParameters = network.TrainableParameterCount;
            var gradients = network.Layers.Select(l => zeros_like(l.Layer.WeightMu!)).ToList();
            var squaredGradients = network.Layers.Select(l => zeros_like(l.Layer.WeightMu!)).ToList();
            RunStage(classifier, BayesianStage.MeanField, _options.MeanFieldEpochs, _options.BayesianLearningRate, train, validation, rng, report, gradients, squaredGradients);
            var fisher = squaredGradients.Select(g => g.cpu().data<float>().ToArray()).ToList();
            squaredGradients.ForEach(g => g.Dispose());
            var rawPoints = network.PosteriorPoints(null);
            report.MeanFieldSigma = MeanFieldSigmaDiagnostics.Measure(
                rawPoints.SelectMany(p => p.Sigma).Select(v => Math.Log(v)).ToArray(), fisher.SelectMany(f => f).Select(v => (double)v).ToArray());
            _log($"stage 1: {report.MeanFieldSigma}");
            OnStageCompleted(classifier, BayesianStage.MeanField);
            if (_options.StopAfterMeanField) { gradients.ForEach(g => g.Dispose()); return classifier; }

            var points = network.PosteriorPoints(gradients.Select(g => g.cpu().data<float>().ToArray()).ToList());
            gradients.ForEach(g => g.Dispose());
            points = FlatSigmaCheck(points, fisher, report.MeanFieldSigma, train.Count, report);
            _log($"stage 2: building the shared posterior from {points.Sum(p => (long)p.Mu.Length):N0} weights ...");
            var plan = SharedPosteriorBuilder.Build(points, _options.SharedPosterior);
            report.Posterior = plan.Statistics;
            var shared = new SharedPosterior(plan, _options.Variant, _options.Prior, _options.PriorSigma, device,
                new PriorVarianceFloors(_options.PriorWeightVarianceFloor, _options.PriorLogSigmaVarianceFloor));
            network.UseSharedPosterior(shared);
            report.SharedParameters = network.TrainableParameterCount;
            _log($"stage 2: {plan.Statistics.Components} components, {plan.Statistics.Outliers} outliers, {plan.Statistics.EllipseWeights} ellipse weights " +
                 $"of {plan.Statistics.Weights} weights in {plan.Statistics.BuildSeconds:F2} s; trainable {report.SharedParameters:N0} " +
                 $"({report.CompressionVsDeterministic:F1}x fewer than deterministic, {report.CompressionVsMeanField:F1}x fewer than mean-field)");
            RunStage(classifier, BayesianStage.Shared, _options.SharedEpochs, _options.SharedLearningRate, train, validation, rng, report, null, null);
            OnStageCompleted(classifier, BayesianStage.Shared);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>
    /// After stage 1: when log sigma came out flat (its spread below <see cref="TrainerOptions.FlatLogSigmaThreshold"/>),
    /// warns and applies <see cref="TrainerOptions.FlatSigmaFallback"/>. Returns the points stage 2 builds from.
    /// </summary>
    IReadOnlyList<PosteriorLayerPoints> FlatSigmaCheck(IReadOnlyList<PosteriorLayerPoints> points, IReadOnlyList<float[]> fisher,
        MeanFieldSigmaDiagnostics sigma, int trainCount, TrainingReport report)
    {
        if (!(sigma.LogSigmaSd < _options.FlatLogSigmaThreshold)) return points;
        string what = $"warning: stage 1 left log sigma flat (sd {sigma.LogSigmaSd:G3} nats < {nameof(TrainerOptions.FlatLogSigmaThreshold)} " +
                      $"{_options.FlatLogSigmaThreshold}): the variance parameters did not learn (too few stage-1 epochs or too low a " +
                      $"{nameof(TrainerOptions.MeanFieldSigmaLearningRate)}), so sigma holds its initial value and carries no epistemic information.";
        if (_options.FlatSigmaFallback == FlatSigmaFallback.None)
        {
            _log(what + $" {nameof(TrainerOptions.FlatSigmaFallback)} is None: stage 2 uses it as it is.");
            return points;
        }
        // Diagonal Laplace: the posterior precision of a weight is N times the per-image Fisher plus the prior's precision,
        // so the posterior sigma is the prior's times 1/sqrt(1 + N F s^2), s the prior's scale. The per-image Fisher F is
        // about the batch size times the mean squared mini-batch gradient (a batch mean's variance is 1/B of an image's). The
        // prior's scale is the layer's: the root mean square of its weights (empirical Bayes). That shrink factor is applied
        // to the flat stage-1 sigma, which stays the largest: it is the noise the likelihood was shown to tolerate, where a
        // prior as wide as the layer's weights costs accuracy (1,000 Fashion-MNIST images: ECE 0.09 against 0.04), and the
        // posterior scale fitted on validation sets the overall size. The first version used the flat sigma as the prior
        // itself, whose precision (1e6) swamped the curvature (N F about 0.02 on 125 images): sigma stayed flat.
        var laplace = points.Select((p, l) =>
        {
            double meanSquare = Math.Max(p.Mu.Average(m => (double)m * m), (double)StochasticLayer.SigmaFloor * StochasticLayer.SigmaFloor);
            return p with
            {
                Sigma = p.Sigma.Select((s, i) => (float)Math.Max(s / Math.Sqrt(1 + (double)trainCount * _options.BatchSize * fisher[l][i] * meanSquare),
                    StochasticLayer.SigmaFloor)).ToArray(),
            };
        }).ToList();
        report.FlatSigmaFallbackUsed = true;
        report.MeanFieldSigma = MeanFieldSigmaDiagnostics.Measure(laplace.SelectMany(p => p.Sigma).Select(v => Math.Log(v)).ToArray(),
            fisher.SelectMany(f => f).Select(v => (double)v).ToArray());
        _log(what + " Fallback (Laplace): stage 2 uses sigma = sigma1 / sqrt(1 + N F s^2), with sigma1 the flat stage-1 sigma, F the empirical Fisher of the last stage-1 epoch and s the root mean square of the layer's weights, " +
             $"so that the posterior plane's second axis holds curvature: {report.MeanFieldSigma}.");
        return laplace;
    }

    /// <summary>The names of the parameters whose gradient missed <paramref name="optimizer"/>'s buffers (at most five, then a count); null when none did.</summary>
    static string? FlatGradientsMissed(BayesianNetwork network, FlatOptimizer optimizer)
    {
        var missed = optimizer.ParametersWhoseGradientMissedTheBuffers().Select(p => p.Handle).ToHashSet();
        if (missed.Count == 0) return null;
        var names = network.named_parameters().Where(t => missed.Contains(t.parameter.Handle)).Select(t => t.name).ToList();
        return string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");
    }

    /// <summary>
    /// A fresh network of the factory's architecture on <paramref name="device"/>, wrapped with what scoring needs, reporting
    /// into <paramref name="report"/> (whose deterministic parameter count it sets when not yet set: an ensemble's members share one report).
    /// </summary>
    /// <summary>
    /// A fresh network from <paramref name="factory"/>, its initial weights from <paramref name="seed"/>, and its training
    /// draws from a generator of its own with that seed (on the CPU; see <see cref="BayesianNetwork.TrainingNoise"/>):
    /// same seed, same result, also with other trainers running in the process.
    /// </summary>
    internal BayesianImageClassifier NewClassifier(NetworkFactory factory, ImageSet train, Device device, TrainingReport report, long seed)
    {
        var network = SeededConstruction.Build(seed, () => new BayesianNetwork(factory(train.Channels, train.Height, train.Width, train.ClassNames.Count)));
        network.UseTrainingNoise(device.type == DeviceType.CPU ? NoiseSource.Seeded(seed) : null);
        network.to(device);
        if (report.DeterministicParameters == 0) report.DeterministicParameters = network.TrainableParameterCount;
        var (mean, std) = _options.NormalizeMean is null || _options.NormalizeStd is null
            ? train.ChannelStatistics()
            : (_options.NormalizeMean, _options.NormalizeStd);
        return new BayesianImageClassifier(network, train.Channels, train.Height, train.Width, train.ClassNames, mean, std, device, report);
    }

    internal int StepsPerEpoch(ImageSet train) => (train.Count + _options.BatchSize - 1) / _options.BatchSize;

    static string LearningRateName(BayesianStage stage) => stage switch
    {
        BayesianStage.Deterministic => nameof(TrainerOptions.LearningRate),
        BayesianStage.MeanField => nameof(TrainerOptions.BayesianLearningRate),
        _ => nameof(TrainerOptions.SharedLearningRate),
    };

    /// <summary>The option and rate the variational stages train their scales at (null for stage 0, which has none).</summary>
    (string Name, double Rate)? ScaleLearningRate(BayesianStage stage) => stage switch
    {
        BayesianStage.MeanField => (nameof(TrainerOptions.MeanFieldSigmaLearningRate), _options.EffectiveMeanFieldSigmaLearningRate(_stageSteps)),
        BayesianStage.Shared => (nameof(TrainerOptions.SharedScaleLearningRate), _options.EffectiveSharedScaleLearningRate),
        _ => null,
    };

    /// <summary>Pixels must be finite numbers: one NaN would otherwise surface stages later as a cryptic failure.</summary>
    static void CheckFinite(ImageSet set, string what)
    {
        var pixels = set.Pixels;
        for (int i = 0; i < pixels.Length; i++)
            if (!float.IsFinite(pixels[i]))
                throw new ArgumentException($"Image {i / set.ImageSize} of the {what} set holds {pixels[i].ToString(System.Globalization.CultureInfo.InvariantCulture)} at pixel {i % set.ImageSize}; pixels must be finite numbers.");
    }

    int SamplesFor(BayesianStage stage) => stage == BayesianStage.Deterministic ? 1 : _options.PredictionSamples;

    static int StageNumber(BayesianStage stage) => stage switch
    {
        BayesianStage.Deterministic => 0,
        BayesianStage.MeanField => 1,
        _ => 3,
    };

    (Tensor X, Tensor Y) Batch(BayesianImageClassifier classifier, ImageSet set, ReadOnlySpan<int> indices, Random rng)
    {
        var pixels = new float[indices.Length * set.ImageSize];
        var labels = new long[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            set.Image(indices[i]).CopyTo(pixels.AsSpan(i * set.ImageSize));
            labels[i] = set.Labels[indices[i]];
        }
        // Augment before normalising so that padding is black, as in the raw images.
        var x = tensor(pixels, new long[] { indices.Length, set.Channels, set.Height, set.Width }).to(classifier.Device);
        // Crops and flips move pixels; a feature vector has no space to move in.
        if (!set.IsFeatureVectors) x = Augmentation.Apply(x, _options.CropPadding, _options.HorizontalFlip, rng);
        x = BayesianImageClassifier.Normalize(x, classifier.NormalizeMean, classifier.NormalizeStd);
        return (x, tensor(labels).to(classifier.Device));
    }
}
