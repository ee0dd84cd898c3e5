namespace MLNet.Bayesian.Scoring;

/// <summary>Names of the columns the Bayesian image classifier reads and writes.</summary>
public static class BayesianColumnNames
{
    /// <summary>Input: the key-typed label.</summary>
    public const string Label = "Label";
    /// <summary>Input: the image (MLImage, raw bytes or a pixel vector).</summary>
    public const string Image = "Image";
    /// <summary>Output: the predicted class, a key with the training label's key values.</summary>
    public const string PredictedLabel = "PredictedLabel";
    /// <summary>Output: posterior-mean class probabilities.</summary>
    public const string Score = "Score";
    /// <summary>Output: the largest posterior-mean probability.</summary>
    public const string Confidence = "Confidence";
    /// <summary>Output: entropy of the posterior-mean probabilities (total uncertainty, nats).</summary>
    public const string PredictiveEntropy = "PredictiveEntropy";
    /// <summary>Output: mean entropy of the per-sample probabilities (aleatoric part, nats).</summary>
    public const string ExpectedEntropy = "ExpectedEntropy";
    /// <summary>Output: predictive minus expected entropy (epistemic part, nats).</summary>
    public const string MutualInformation = "MutualInformation";
    /// <summary>Output: Mahalanobis distance of the image's features to the nearest class of the training images (unfamiliar input).</summary>
    public const string FeatureDistance = "FeatureDistance";
    /// <summary>Output: -log sum_k exp(logit_k), averaged over the samples (the free energy; unfamiliar input scores high).</summary>
    public const string Energy = "Energy";
    /// <summary>Output of a conformally calibrated model: one boolean per class (key order), whether the class is in the prediction set.</summary>
    public const string PredictionSet = "PredictionSet";
    /// <summary>Output of a conformally calibrated model: the number of classes in the prediction set (a float).</summary>
    public const string PredictionSetSize = "PredictionSetSize";
}
