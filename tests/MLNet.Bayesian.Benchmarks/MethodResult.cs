using System.Text.Json.Serialization;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>One method's row of results.json; the property names are the file's keys.</summary>
internal sealed record MethodResult
{
    [JsonPropertyName("method")] public required string Method { get; init; }
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
    [JsonPropertyName("nll")] public double Nll { get; init; }
    [JsonPropertyName("ece")] public double Ece { get; init; }
    [JsonPropertyName("brier")] public double Brier { get; init; }
    [JsonPropertyName("aurc")] public double Aurc { get; init; }
    [JsonPropertyName("ood_auroc_entropy")] public double OodAurocEntropy { get; init; }
    /// <summary>Null for a deterministic network: one sample has no mutual information.</summary>
    [JsonPropertyName("ood_auroc_mutual_information")] public double? OodAurocMutualInformation { get; init; }
    [JsonPropertyName("ood_auroc_confidence")] public double OodAurocConfidence { get; init; }
    /// <summary>By the distance of the features to the training images' class Gaussians (every method has it).</summary>
    [JsonPropertyName("ood_auroc_feature_distance")] public double OodAurocFeatureDistance { get; init; }
    /// <summary>By the free energy of the logits.</summary>
    [JsonPropertyName("ood_auroc_energy")] public double OodAurocEnergy { get; init; }
    [JsonPropertyName("shift_rotate30_accuracy")] public double ShiftRotate30Accuracy { get; init; }
    [JsonPropertyName("shift_rotate30_ece")] public double ShiftRotate30Ece { get; init; }
    [JsonPropertyName("shift_noise_accuracy")] public double ShiftNoiseAccuracy { get; init; }
    [JsonPropertyName("shift_noise_ece")] public double ShiftNoiseEce { get; init; }
    [JsonPropertyName("trainable_parameters")] public long TrainableParameters { get; init; }
    [JsonPropertyName("model_bytes")] public long ModelBytes { get; init; }
    [JsonPropertyName("train_step_ms")] public double TrainStepMs { get; init; }
    [JsonPropertyName("train_step_ratio_vs_deterministic")] public double TrainStepRatioVsDeterministic { get; init; }
    [JsonPropertyName("predict_images_per_s")] public double PredictImagesPerS { get; init; }
    /// <summary>The same test images, S and seed through ML.NET: the transformer's Transform, every output column enumerated.</summary>
    [JsonPropertyName("predict_images_per_s_mlnet")] public double PredictImagesPerSMLNet { get; init; }
    /// <summary>Not in results.json: ML.NET over direct, best of three alternated passes of each on up to 2,000 test images (the target's figure).</summary>
    [JsonIgnore] public double MLNetOverDirect { get; init; }
    /// <summary>Stage 2 (the shared posterior's construction); null for methods that have none.</summary>
    [JsonPropertyName("posterior_build_seconds")] public double? PosteriorBuildSeconds { get; init; }
    /// <summary>The posterior scale the method scored with (chosen on validation); null for methods without a Gaussian posterior.</summary>
    [JsonPropertyName("posterior_scale")] public double? PosteriorScale { get; init; }
    [JsonPropertyName("samples")] public int Samples { get; init; }
}
