using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Training;

/// <summary>Optimisers the trainer offers.</summary>
public enum OptimizerKind
{
    /// <summary>Adam.</summary>
    Adam,
    /// <summary>SGD with momentum 0.9.</summary>
    Sgd,
}

/// <summary>What stage 2 takes as each weight's sigma when stage 1 left log sigma flat.</summary>
public enum FlatSigmaFallback
{
    /// <summary>
    /// The shrink of a diagonal Laplace approximation applied to stage 1's flat sigma: sigma = sigma1 / sqrt(1 + N F s^2),
    /// with F the empirical Fisher (batch size x the mean squared mini-batch gradient over the last stage-1 epoch), N the
    /// training images and s the root mean square of the layer's weights as the prior's scale (empirical Bayes): sigma1, the
    /// noise stage 1 trained with, where the loss is flat, smaller where it is curved. The posterior scale fitted on
    /// validation then sets the overall size.
    /// </summary>
    Laplace,
    /// <summary>Keep stage 1's sigma (after the warning).</summary>
    None,
}

/// <summary>What the trainer does when the finished Bayesian model is worse on validation than its own stage 0.</summary>
public enum WorseThanStage0
{
    /// <summary>Warn, name the likely settings, and keep the stage-0 (deterministic) network instead.</summary>
    KeepStage0,
    /// <summary>Warn and keep the Bayesian model.</summary>
    Warn,
}

/// <summary>
/// Settings of the training stages of 2DGBNN: the one source of every training setting and its default. The
/// ML.NET trainer's options extend this class, and the command line sets any field by name
/// (<c>--set Name=value</c>). <see cref="Validate"/> checks every field before training starts.
/// </summary>
public class TrainerOptions
{
    /// <summary>The defaults that tools show in their help (the fields below use them).</summary>
    public const int DefaultPredictionSamples = 30, DefaultBatchSize = 64, DefaultDeterministicEpochs = 3, DefaultMeanFieldEpochs = 1, DefaultSharedEpochs = 1;
    /// <summary>The default sampling variant.</summary>
    public const SamplingVariant DefaultVariant = SamplingVariant.Shared;

    /// <summary>The method: 2DGBNN (default), or the MC-dropout and deep-ensemble baselines (see <see cref="BayesianMethod"/>).</summary>
    public BayesianMethod Method = BayesianMethod.TwoDGbnn;
    /// <summary>
    /// Dropout rate p of <see cref="BayesianMethod.McDropout"/>, in (0, 1): the chance that an input channel (Conv2d) or
    /// input feature (Linear) of a layer is dropped, in training and in each prediction draw. Ignored by the other methods.
    /// </summary>
    public double DropoutRate = 0.1;
    /// <summary>Members M of <see cref="BayesianMethod.DeepEnsemble"/> (at least 2); its prediction averages them, so S = M. Ignored by the other methods.</summary>
    public int EnsembleMembers = 3;
    /// <summary>Epochs of deterministic training (stage 0); at least 1.</summary>
    public int DeterministicEpochs = DefaultDeterministicEpochs;
    /// <summary>Epochs of mean-field VI (stage 1); 0 stops after stage 0 (a deterministic model: its mutual information is 0 on every row).</summary>
    public int MeanFieldEpochs = DefaultMeanFieldEpochs;
    /// <summary>Epochs of VI on the shared posterior (stage 3); 0 keeps the posterior as stage 2 built it.</summary>
    public int SharedEpochs = DefaultSharedEpochs;
    /// <summary>Stop after stage 1 (mean-field baseline) instead of building the shared posterior.</summary>
    public bool StopAfterMeanField = false;
    /// <summary>Images per batch, in training and scoring.</summary>
    public int BatchSize = DefaultBatchSize;
    /// <summary>Learning rate of stage 0.</summary>
    public double LearningRate = 1e-3;
    /// <summary>Learning rate of stage 1 (mean-field VI).</summary>
    public double BayesianLearningRate = 1e-3;
    /// <summary>Learning rate of stage 3's means (components' and outliers'). Lower than stage 1's: a component's mean
    /// moves every weight it holds at once. With fast stage-3 scales, 1e-4, 3e-4 and 1e-3 gave NLL 0.2736, 0.2721 and
    /// 0.2714 at about the same accuracy in the full-data ablation (tests/MLNet.Bayesian.Benchmarks/results/ablation,
    /// rows 7a, 7e, 8c); 3e-4 with the other defaults is row 8b.</summary>
    public double SharedLearningRate = 3e-4;
    /// <summary>Optimiser.</summary>
    public OptimizerKind Optimizer = OptimizerKind.Adam;
    /// <summary>
    /// Update the parameters with a flat optimiser: the trainable parameters and their gradients become views of one
    /// buffer per dtype and device, so each step is a few operations whatever the number of tensors. Off falls back
    /// to TorchSharp's per-tensor optimisers, which give the same numbers to float rounding but cost more per step.
    /// </summary>
    public bool FlatOptimizer = true;
    /// <summary>Cosine-anneal the learning rate to 0 over each stage.</summary>
    public bool CosineSchedule = true;
    /// <summary>Initial posterior scale of every weight in stage 1.</summary>
    public double InitialSigma = 1e-3;
    /// <summary>Scale of the zero-mean Gaussian prior of stage 1 (and of stage 3's zero-mean option).</summary>
    public double PriorSigma = 1.0;
    /// <summary>Multiplies KL / N in the ELBO; below 1 tempers the prior on small data sets.</summary>
    public double KLWeight = 1.0;
    /// <summary>Epochs over which the KL weight ramps linearly from 0 to KLWeight at the start of each variational stage (0: none).</summary>
    public int KLWarmupEpochs = 0;
    /// <summary>How the shared posterior is built (stage 2): outlier thresholds, component budget, merging.</summary>
    public SharedPosteriorOptions SharedPosterior = new();
    /// <summary>How component draws become weights. Shared: the paper's weight sharing; it matched the hierarchical
    /// variant on accuracy and calibration in the benchmark, saves models 14x smaller and scores faster.</summary>
    public SamplingVariant Variant = DefaultVariant;
    /// <summary>Prior of stage 3.</summary>
    public SharedPrior Prior = SharedPrior.EmpiricalBayes;
    /// <summary>Between stage-3 epochs, merge components whose posteriors are closer than this squared W2 distance (0: never).</summary>
    public double RemergeThreshold = 0;
    /// <summary>Posterior samples S averaged for each prediction.</summary>
    public int PredictionSamples = DefaultPredictionSamples;
    /// <summary>Zero padding for random-crop augmentation (0 disables).</summary>
    public int CropPadding = 2;
    /// <summary>Random horizontal flips (off by default: wrong for digits and text).</summary>
    public bool HorizontalFlip = false;
    /// <summary>
    /// Per-channel mean subtracted from pixels in [0, 1] (one value for all channels, or one per channel); null: each
    /// channel's mean over the training set (with <see cref="NormalizeStd"/> null too: standardised inputs, what feature
    /// vectors get).
    /// </summary>
    public float[]? NormalizeMean = { 0.5f };
    /// <summary>Per-channel divisor applied after the mean; null (with <see cref="NormalizeMean"/> null): each channel's standard deviation over the training set.</summary>
    public float[]? NormalizeStd = { 0.5f };
    /// <summary>Seed of weights, shuffling, augmentation and prediction draws; null takes the MLContext's seed in ML.NET, else 0.</summary>
    public int? Seed = null;
    /// <summary>Stop a variational stage when validation NLL has not improved for this many epochs (0: never).</summary>
    public int EarlyStoppingPatience = 0;
    /// <summary>
    /// With validation data: what happens when the finished model (its posterior scale fitted) is worse than stage 0 was,
    /// by <see cref="Stage0AccuracyMargin"/> in accuracy (at least two validation images), or by <see cref="Stage0NllMargin"/> in NLL
    /// without being more accurate by that margin:
    /// a run whose Bayesian stages collapsed (a learning rate or KL weight too high for the data) or, on a few hundred
    /// images, whose posterior is too wide to help. Keeping stage 0 (the default) gives a deterministic model (no epistemic
    /// uncertainty) that is at least as good as the network the Bayesian stages started from.
    /// </summary>
    public WorseThanStage0 WhenWorseThanStage0 = WorseThanStage0.KeepStage0;
    /// <summary>Validation accuracy (a fraction) the finished model may lose against stage 0 before <see cref="WhenWorseThanStage0"/> applies.</summary>
    public double Stage0AccuracyMargin = 0.02;
    /// <summary>Relative rise of validation NLL over stage 0's before <see cref="WhenWorseThanStage0"/> applies.</summary>
    public double Stage0NllMargin = 0.1;

    // Posterior learning (issue 13): how the scales of the posterior learn, and what happens when they did not.

    /// <summary>
    /// Learning rate of the posterior scales (every rho) in stage 1; the means keep <see cref="BayesianLearningRate"/>.
    /// Why a rate of its own: the KL's gradient on every rho is about the same small constant, and Adam turns any
    /// consistent gradient into a step of the learning rate, so at the means' rate every log sigma drifts up by the
    /// same amount and stage 1 learns no scale at all. The authors train the scales 100x faster than the means; on full
    /// Fashion-MNIST (5/2/2 epochs) 100x (0.1) spread log sigma over 5 nats and cost 5.6 points of accuracy, 30x
    /// (0.03) 1.6 points, 20x 0.2-0.4 points; 15x (0.015, the default) kept the accuracy and, with the stage-3 rates
    /// below, raised the OOD AUROC by mutual information from 0.874 to 0.928 (means over seeds; ablation in
    /// tests/MLNet.Bayesian.Benchmarks/results/ablation). That run had 844 stage-1 steps (2 epochs of 54,000 images at batch
    /// 128); a rate per step is a distance per step, so the same rate moved log sigma twice as far at batch 64 and 1/40 as far
    /// on 200 images. Null (the default) sets the rate from <see cref="MeanFieldSigmaTravel"/> and the number of stage-1
    /// steps when <see cref="MeanFieldSigmaTravel"/> is set; a number is used as it is, and the default 0.015 is used when both
    /// are null (scaled by the batch size, see <see cref="EffectiveMeanFieldSigmaLearningRate"/>).
    /// </summary>
    public double? MeanFieldSigmaLearningRate = null;
    /// <summary>
    /// The stage-1 scale rate at <see cref="SigmaRateReferenceBatchSize"/> when neither <see cref="MeanFieldSigmaLearningRate"/>
    /// nor <see cref="MeanFieldSigmaTravel"/> is set; other batch sizes scale it (see <see cref="EffectiveMeanFieldSigmaLearningRate"/>).
    /// </summary>
    public const double DefaultMeanFieldSigmaLearningRate = 1.5e-2;
    /// <summary>The batch size at which <see cref="DefaultMeanFieldSigmaLearningRate"/> was tuned (full Fashion-MNIST, 844 stage-1 steps).</summary>
    public const int SigmaRateReferenceBatchSize = 128;
    /// <summary>
    /// How far (in nats) stage 1 can move each log sigma, instead of a rate per step (null, the default: the rate is
    /// <see cref="MeanFieldSigmaLearningRate"/>): the rate is this distance over the stage's steps (twice that under the
    /// cosine schedule, which averages half the peak rate), at most <see cref="MaxSigmaLearningRate"/>. Adam moves a
    /// parameter whose gradient keeps its sign by about one rate per step, and the KL's pull on every rho keeps its sign
    /// until sigma reaches the balance of prior and likelihood, so this is how far sigma can go from <see cref="InitialSigma"/>
    /// towards that balance, whatever the data size, batch size and epochs; 6.3 is what the default rate gives over 844
    /// steps (full Fashion-MNIST at batch 128). Why it is not the default: on a few hundred or thousand images the balance
    /// lies near the prior (sigma about <see cref="PriorSigma"/> = 1 where the loss is flat), so reaching it costs most of the
    /// accuracy (1,000 Fashion-MNIST images: ECE 0.20 against 0.04 at the default rate, whose sigma stays near its start);
    /// such runs rely on the posterior scale fitted on validation and on the flat-sigma fallback instead.
    /// </summary>
    public double? MeanFieldSigmaTravel = null;
    /// <summary>The largest stage-1 scale rate <see cref="MeanFieldSigmaTravel"/> sets (a stage of very few steps).</summary>
    public const double MaxSigmaLearningRate = 1.0;

    /// <summary>
    /// The stage-1 scale learning rate for a stage of <paramref name="steps"/> steps (see <see cref="MeanFieldSigmaTravel"/>).
    /// With neither option set: <see cref="DefaultMeanFieldSigmaLearningRate"/> times <see cref="BatchSize"/> /
    /// <see cref="SigmaRateReferenceBatchSize"/> (at most <see cref="MaxSigmaLearningRate"/>), so that log sigma travels the
    /// same distance per epoch at every batch size. Why (issue 29): Adam moves each rho by about one rate per step while the
    /// KL's pull keeps its sign, so a fixed rate per step let stage 1 widen sigma twice as far at batch 64 as at the batch 128
    /// it was tuned at. On full Fashion-MNIST (5/2/2 epochs) that took log sigma's 99th percentile to -0.09 (sigma 0.92)
    /// against -0.73 at batch 128; the hierarchical variant draws every member's noise with exp(b), b from that log-sigma
    /// axis, and scored 20%. Reproduced on the 1,800-image quick subset with 58 stage-1 epochs (1,682 steps at batch 64,
    /// 812 at 128): log sigma 1-99% [-1.86, 0.03] at batch 64 against [-2.40, -0.85] at 128; stage 1 itself fell from 79.5%
    /// to 59.5% validation accuracy, and the hierarchical model ended at 59.3% test accuracy (stage 0: 78.8%).
    /// </summary>
    public double EffectiveMeanFieldSigmaLearningRate(long steps)
        => MeanFieldSigmaLearningRate
           ?? (MeanFieldSigmaTravel is double travel
               ? Math.Min(MaxSigmaLearningRate, (CosineSchedule ? 2 : 1) * travel / Math.Max(1, steps))
               : Math.Min(MaxSigmaLearningRate, DefaultMeanFieldSigmaLearningRate * BatchSize / SigmaRateReferenceBatchSize));
    /// <summary>
    /// Learning rate of the scales in stage 3 (components' Cholesky factors, outliers' rho, and the hierarchical variant's
    /// log-scale means); the means keep <see cref="SharedLearningRate"/>. A number is used as it is. Null takes the
    /// variant's default, 1 for <see cref="SamplingVariant.Shared"/> and 0.1 for <see cref="SamplingVariant.Hierarchical"/>
    /// (<see cref="DefaultSharedVariantScaleLearningRate"/>, <see cref="DefaultHierarchicalScaleLearningRate"/>), tuned at
    /// batch <see cref="SigmaRateReferenceBatchSize"/> and scaled by <see cref="BatchSize"/> / that batch (at most
    /// <see cref="MaxSigmaLearningRate"/>) as stage 1's: a rate per step is a distance per step, and there are twice as many
    /// steps per epoch at half the batch. Why so fast: in a short stage 3 the scales at the means' rate stay where stage 2
    /// put them, and the draws then spread the weights by how far apart their means were, not by what the data allow. The
    /// hierarchical variant exponentiates a drawn log scale, which overflowed at 0.3.
    /// </summary>
    public double? SharedScaleLearningRate = null;
    /// <summary>The shared variant's stage-3 scale learning rate at batch <see cref="SigmaRateReferenceBatchSize"/> when <see cref="SharedScaleLearningRate"/> is null.</summary>
    public const double DefaultSharedVariantScaleLearningRate = 1.0;
    /// <summary>The hierarchical variant's stage-3 scale learning rate at batch <see cref="SigmaRateReferenceBatchSize"/> when <see cref="SharedScaleLearningRate"/> is null.</summary>
    public const double DefaultHierarchicalScaleLearningRate = 0.1;

    /// <summary>
    /// The stage-3 scale learning rate in effect: <see cref="SharedScaleLearningRate"/>, or the variant's default scaled to
    /// <see cref="BatchSize"/> (see <see cref="SharedScaleLearningRate"/>).
    /// </summary>
    public double EffectiveSharedScaleLearningRate =>
        SharedScaleLearningRate
        ?? Math.Min(MaxSigmaLearningRate,
            (Variant == SamplingVariant.Hierarchical ? DefaultHierarchicalScaleLearningRate : DefaultSharedVariantScaleLearningRate) * BatchSize / SigmaRateReferenceBatchSize);
    /// <summary>
    /// Stage 1 counts as having left log sigma flat when its standard deviation over all weights is below this (nats).
    /// Then a warning is logged and <see cref="FlatSigmaFallback"/> applies. 0 turns the check off.
    /// </summary>
    public double FlatLogSigmaThreshold = 0.01;
    /// <summary>What stage 2 uses for sigma when stage 1 left log sigma flat (see <see cref="FlatLogSigmaThreshold"/>).</summary>
    public FlatSigmaFallback FlatSigmaFallback = FlatSigmaFallback.Laplace;
    /// <summary>
    /// Least variance of stage 3's prior in the weight coordinate (original units; an outlier's prior sigma is at least
    /// its square root). A prior is a statement before the data: stage 2's fit, which q starts from, can be far
    /// narrower than anything the data support. 1e-4 is a standard deviation of 0.01, a tenth of a typical weight.
    /// </summary>
    public double PriorWeightVarianceFloor = 1e-4;
    /// <summary>
    /// Least variance of stage 3's prior in log sigma (nats squared). 0.01 (0.1 nats) kept the stage-3 KL of a
    /// 1,000-image run at 2.6e3 where the fitted variance (1e-18) gave 4.5e10.
    /// </summary>
    public double PriorLogSigmaVarianceFloor = 1e-2;

    /// <summary>
    /// Training images (a seeded random subset when there are more) on which, after the last stage, the Gaussians of the
    /// network's features are fitted: the model of familiar images behind the FeatureDistance column (see
    /// <see cref="Ood.FeatureGaussians"/>). The fit scores them once with the model's draws: 10,000 images take about as
    /// long as scoring 10,000 images. 0 leaves the model without it (FeatureDistance is 0 on every row).
    /// </summary>
    public int FeatureFitImages = 10_000;

    /// <summary>
    /// The posterior scale tau the model scores with: its draws spread tau times the trained posterior's standard
    /// deviations about its means (see <see cref="BayesianNetwork.PosteriorScale"/>). Null (the default) fits tau on the
    /// validation set after the last stage, by its NLL (<see cref="Uncertainty.PosteriorScaleFit"/>; 1 when there is no
    /// validation set); a number is used as it is, and 1 scores the posterior as trained. Gaussian posteriors only
    /// (2DGBNN, and mean-field with <see cref="StopAfterMeanField"/>): MC dropout and deep ensembles have no spread to
    /// scale (their own knobs, the dropout rate and the members, are chosen before training).
    /// </summary>
    public double? PosteriorScale = null;

    /// <summary>A copy of these options (of the same type) with <see cref="Seed"/> set.</summary>
    internal TrainerOptions WithSeed(int seed)
    {
        var copy = (TrainerOptions)MemberwiseClone();
        copy.Seed = seed;
        return copy;
    }

    /// <summary>
    /// Checks every setting: counts in range, rates and scales finite and positive, fractions within their bounds.
    /// Throws an <see cref="ArgumentException"/> that names the option, its value and what is allowed.
    /// </summary>
    public virtual void Validate()
    {
        OptionCheck.AtLeast(nameof(DeterministicEpochs), DeterministicEpochs, 1,
            "stage 0 trains the network the later stages start from; an untrained network has no uncertainty worth reporting");
        OptionCheck.AtLeast(nameof(MeanFieldEpochs), MeanFieldEpochs, 0);
        OptionCheck.AtLeast(nameof(SharedEpochs), SharedEpochs, 0);
        OptionCheck.AtLeast(nameof(BatchSize), BatchSize, 1);
        OptionCheck.Positive(nameof(LearningRate), LearningRate);
        OptionCheck.Positive(nameof(BayesianLearningRate), BayesianLearningRate);
        OptionCheck.Positive(nameof(SharedLearningRate), SharedLearningRate);
        OptionCheck.Positive(nameof(InitialSigma), InitialSigma);
        OptionCheck.Positive(nameof(PriorSigma), PriorSigma);
        OptionCheck.NonNegative(nameof(KLWeight), KLWeight);
        OptionCheck.AtLeast(nameof(KLWarmupEpochs), KLWarmupEpochs, 0);
        OptionCheck.NonNegative(nameof(RemergeThreshold), RemergeThreshold);
        OptionCheck.AtLeast(nameof(PredictionSamples), PredictionSamples, 1);
        OptionCheck.AtLeast(nameof(CropPadding), CropPadding, 0);
        OptionCheck.AtLeast(nameof(EarlyStoppingPatience), EarlyStoppingPatience, 0);
        OptionCheck.AtLeast(nameof(FeatureFitImages), FeatureFitImages, 0);
        if (PosteriorScale is double posteriorScale) OptionCheck.Positive(nameof(PosteriorScale), posteriorScale);
        // Checked here, not after training: one image has no spread to fit, and the fit runs only once every stage is done.
        if (FeatureFitImages == 1)
            throw new ArgumentOutOfRangeException(nameof(FeatureFitImages), FeatureFitImages,
                $"{nameof(FeatureFitImages)} is 1; the feature Gaussians need at least 2 images (0 leaves the model without the FeatureDistance column).");
        OptionCheck.Defined(nameof(Method), Method);
        if (!(DropoutRate > 0 && DropoutRate < 1))
            throw new ArgumentOutOfRangeException(nameof(DropoutRate), DropoutRate,
                $"{nameof(DropoutRate)} is {DropoutRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}; it must be above 0 and below 1 (0.05 to 0.2 are usual).");
        OptionCheck.AtLeast(nameof(EnsembleMembers), EnsembleMembers, 2, "one member has no disagreement to measure");
        if (MeanFieldSigmaLearningRate is double sigmaRate) OptionCheck.Positive(nameof(MeanFieldSigmaLearningRate), sigmaRate);
        if (MeanFieldSigmaTravel is double travelNats) OptionCheck.Positive(nameof(MeanFieldSigmaTravel), travelNats);
        OptionCheck.Defined(nameof(WhenWorseThanStage0), WhenWorseThanStage0);
        OptionCheck.Within(nameof(Stage0AccuracyMargin), Stage0AccuracyMargin, 0, 1);
        OptionCheck.NonNegative(nameof(Stage0NllMargin), Stage0NllMargin);
        if (SharedScaleLearningRate is double scaleRate) OptionCheck.Positive(nameof(SharedScaleLearningRate), scaleRate);
        OptionCheck.NonNegative(nameof(FlatLogSigmaThreshold), FlatLogSigmaThreshold);
        OptionCheck.Defined(nameof(FlatSigmaFallback), FlatSigmaFallback);
        OptionCheck.NonNegative(nameof(PriorWeightVarianceFloor), PriorWeightVarianceFloor);
        OptionCheck.NonNegative(nameof(PriorLogSigmaVarianceFloor), PriorLogSigmaVarianceFloor);
        OptionCheck.Defined(nameof(Optimizer), Optimizer);
        OptionCheck.Defined(nameof(Variant), Variant);
        OptionCheck.Defined(nameof(Prior), Prior);
        if ((NormalizeMean is null) != (NormalizeStd is null))
            throw new ArgumentException($"{nameof(NormalizeMean)} and {nameof(NormalizeStd)} are null together (both from the training data) or given together.", nameof(NormalizeMean));
        if (NormalizeMean is not null && (NormalizeMean.Length == 0 || NormalizeMean.Any(v => !float.IsFinite(v))))
            throw new ArgumentException($"{nameof(NormalizeMean)} needs one finite value, or one per channel.", nameof(NormalizeMean));
        if (NormalizeStd is not null && (NormalizeStd.Length == 0 || NormalizeStd.Any(v => !float.IsFinite(v) || v <= 0)))
            throw new ArgumentException($"{nameof(NormalizeStd)} needs one finite value above 0, or one per channel.", nameof(NormalizeStd));
        if (SharedPosterior is null) throw new ArgumentNullException(nameof(SharedPosterior));
        SharedPosterior.Validate();
    }
}
