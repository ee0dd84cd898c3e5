using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Training;

/// <summary>Statistics a user can read after training.</summary>
public sealed class TrainingReport
{
    /// <summary>One entry per stage that ran.</summary>
    public IReadOnlyList<StageReport> Stages => StageList;

    // The trainer appends and replaces stages as it goes; readers see them read-only.
    internal List<StageReport> StageList { get; } = new();
    /// <summary>Weights of the Conv2d/Linear layers.</summary>
    public long BayesianWeights { get; internal set; }
    /// <summary>Trainable scalars of the deterministic network.</summary>
    public long DeterministicParameters { get; internal set; }
    /// <summary>Trainable scalars of the mean-field network (2 per weight + the rest).</summary>
    public long MeanFieldParameters { get; internal set; }
    /// <summary>Trainable scalars of the shared-posterior network.</summary>
    public long SharedParameters { get; internal set; }
    /// <summary>
    /// Stage 1's posterior scales: spread of log sigma and its rank correlation with the empirical Fisher (null before
    /// stage 1). After the flat-sigma fallback, the figures of the sigma stage 2 used.
    /// </summary>
    public MeanFieldSigmaDiagnostics? MeanFieldSigma { get; internal set; }
    /// <summary>Whether stage 1 left log sigma flat and stage 2 used the Laplace sigma instead (see <see cref="TrainerOptions.FlatSigmaFallback"/>).</summary>
    public bool FlatSigmaFallbackUsed { get; internal set; }
    /// <summary>Stage-2 counts (null when stage 2 did not run).</summary>
    public SharedPosteriorStatistics? Posterior { get; internal set; }
    /// <summary>
    /// The validation images as the trained model scores them (its seeded draws), from the last epoch's validation pass;
    /// null when there was no validation set or the network changed after that pass (e.g. stage 3 ran no epoch). Metrics
    /// and review rules can read these rows instead of scoring the validation set a second time.
    /// </summary>
    public ScoredRows? FinalValidation { get; internal set; }
    /// <summary>
    /// The posterior scale the model scores with and how it was chosen (see <see cref="TrainerOptions.PosteriorScale"/>):
    /// the validation NLLs of every scale tried, or none when the scale was given. Null when the model scores at 1 without
    /// a fit (no validation set, or a method without a Gaussian posterior).
    /// </summary>
    public PosteriorScaleFit.Result? PosteriorScale { get; internal set; }
    /// <summary>
    /// Why the model is stage 0's network although later stages ran (<see cref="TrainerOptions.WhenWorseThanStage0"/>), or
    /// null when it is the last stage's.
    /// </summary>
    public string? KeptStage0Because { get; internal set; }
    /// <summary>Deterministic trainable parameters / shared trainable parameters.</summary>
    public double CompressionVsDeterministic => SharedParameters == 0 ? 0 : (double)DeterministicParameters / SharedParameters;
    /// <summary>Mean-field trainable parameters / shared trainable parameters.</summary>
    public double CompressionVsMeanField => SharedParameters == 0 ? 0 : (double)MeanFieldParameters / SharedParameters;

    /// <inheritdoc />
    public override string ToString()
    {
        var lines = Stages.Select(s => $"{s.Stage}: {s.Epochs} epochs, {s.TrainableParameters:N0} trainable, median step {s.MedianStepMilliseconds:F1} ms" +
            (s.Validation is null ? "" : $", {s.Validation}")).ToList();
        if (Posterior is not null)
            lines.Add($"shared posterior: {Posterior.Components} components ({Posterior.ComponentsBeforeMerge} fitted, {Posterior.DroppedComponents} dropped), " +
                      $"{Posterior.Outliers:N0} outliers, {Posterior.EllipseWeights:N0} ellipse weights of {Posterior.Weights:N0}, built in {Posterior.BuildSeconds:F2} s; " +
                      $"trainable {SharedParameters:N0} = {CompressionVsDeterministic:F1}x fewer than deterministic, {CompressionVsMeanField:F1}x fewer than mean-field");
        return string.Join(Environment.NewLine, lines);
    }
}
