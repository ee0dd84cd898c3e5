using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Catalog entry points: <c>mlContext.MulticlassClassification.Trainers.BayesianImageClassification(...)</c>.</summary>
public static class BayesianCatalog
{
    /// <summary>
    /// A 2DGBNN image classifier with the usual column names and the default settings of
    /// <see cref="BayesianImageClassificationTrainer.Options"/>; <paramref name="epochs"/> sets the deterministic
    /// stage's epochs (the variational stages keep their defaults). The MLContext's log, seed, GPU settings and
    /// cancellation are reached through the catalog (see MLNetInternals for how).
    /// </summary>
    public static BayesianImageClassificationTrainer BayesianImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = BayesianColumnNames.Label,
        string imageColumnName = BayesianColumnNames.Image,
        Architecture architecture = Architecture.SmallCnn,
        int epochs = TrainerOptions.DefaultDeterministicEpochs,
        int batchSize = TrainerOptions.DefaultBatchSize)
        => catalog.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, Architecture = architecture,
            DeterministicEpochs = epochs, BatchSize = batchSize,
        });

    /// <summary>A 2DGBNN image classifier with every setting.</summary>
    public static BayesianImageClassificationTrainer BayesianImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BayesianImageClassificationTrainer.Options options)
        => new(MLNetInternals.EnvironmentOf(catalog), options);
}
