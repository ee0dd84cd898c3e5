using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Training;

/// <summary>What one stage ended with.</summary>
public sealed record StageReport(BayesianStage Stage, int Epochs, long TrainableParameters, ClassificationMetrics? Validation, double MedianStepMilliseconds);
