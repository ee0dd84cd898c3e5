namespace ModelBuilderStyle;

/// <summary>What the model says about one image.</summary>
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
    /// <summary>Epistemic uncertainty (nats): high for images unlike the training data.</summary>
    public float MutualInformation { get; set; }
}
