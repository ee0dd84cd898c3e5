namespace ColourPhotos;

/// <summary>What the model says about one photo.</summary>
public sealed class ModelOutput
{
    /// <summary>Predicted class name.</summary>
    public string PredictedClass { get; set; } = "";
    /// <summary>Posterior-mean probability of each class.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();
    /// <summary>Largest probability.</summary>
    public float Confidence { get; set; }
    /// <summary>Total uncertainty (nats).</summary>
    public float PredictiveEntropy { get; set; }
    /// <summary>Epistemic uncertainty (nats): the posterior's draws disagree.</summary>
    public float MutualInformation { get; set; }
    /// <summary>How far the photo's features lie from every class's training photos: high for things never seen.</summary>
    public float FeatureDistance { get; set; }
    /// <summary>-log sum exp of the logits: high when no class fits.</summary>
    public float Energy { get; set; }
}
