using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Catalog entry points: <c>mlContext.MulticlassClassification.Trainers.BayesianImageClassification(...)</c>.</summary>
public static class BayesianCatalog
{
    /// <summary>
    /// A 2DGBNN image classifier with the usual column names. The MLContext's log, seed, GPU settings and
    /// cancellation are reached through the catalog (see MLNetInternals for how).
    /// </summary>
    public static BayesianImageClassificationTrainer BayesianImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = BayesianColumnNames.Label,
        string imageColumnName = BayesianColumnNames.Image,
        Architecture architecture = Architecture.SmallCnn,
        int epochs = 3,
        int batchSize = 64)
        => catalog.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            LabelColumnName = labelColumnName, ImageColumnName = imageColumnName, Architecture = architecture,
            DeterministicEpochs = epochs, MeanFieldEpochs = Math.Max(1, epochs / 3), SharedEpochs = Math.Max(1, epochs / 3), BatchSize = batchSize,
        });

    /// <summary>A 2DGBNN image classifier with every setting.</summary>
    public static BayesianImageClassificationTrainer BayesianImageClassification(
        this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, BayesianImageClassificationTrainer.Options options)
        => new(MLNetInternals.EnvironmentOf(catalog), options);
}
