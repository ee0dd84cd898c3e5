namespace MLNet.Bayesian.Posterior;

/// <summary>A layer's stage-1 posterior as plain arrays: mean, scale and gradient magnitude per weight.</summary>
internal sealed record PosteriorLayerPoints(string Name, long[] Shape, float[] Mu, float[] Sigma, float[]? GradientMagnitude)
{
    /// <summary>Number of weights.</summary>
    public int Count => Mu.Length;
}
