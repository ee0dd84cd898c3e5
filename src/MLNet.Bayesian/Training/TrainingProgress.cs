namespace MLNet.Bayesian.Training;

/// <summary>
/// Where training stands after a batch: the stage, epoch and batch, and the whole run's batches done and planned
/// (every epoch of every stage; a stage stopped early leaves its batches uncounted, so the fraction jumps).
/// <see cref="Remaining"/> extrapolates the run's time per batch so far to the batches left. It counts training batches
/// only: validation passes (at S draws from stage 1 on) and stage 2, the posterior construction between stages 1 and 3
/// (no batches; 17 s for the small CNN on 2 cores), come on top and show in it only once they have happened.
/// </summary>
public sealed record TrainingProgress(
    BayesianStage Stage, int StageNumber, int Epoch, int Epochs, int Batch, int Batches, long BatchesDone, long BatchesPlanned, TimeSpan Elapsed)
{
    /// <summary>Share of the planned batches done, 0 to 1.</summary>
    public double Fraction => BatchesPlanned == 0 ? 1 : Math.Min(1, (double)BatchesDone / BatchesPlanned);

    /// <summary>Time left at the run's pace so far (zero when done).</summary>
    public TimeSpan Remaining => BatchesDone == 0 ? TimeSpan.Zero : Elapsed * ((double)(BatchesPlanned - BatchesDone) / BatchesDone);

    /// <inheritdoc />
    public override string ToString()
        => $"stage {StageNumber} ({Stage}) epoch {Epoch}/{Epochs} batch {Batch}/{Batches}: {Fraction:P0} of training, {Elapsed:hh\\:mm\\:ss} elapsed, about {Remaining:hh\\:mm\\:ss} left";
}
