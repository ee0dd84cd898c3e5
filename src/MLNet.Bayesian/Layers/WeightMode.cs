namespace MLNet.Bayesian.Layers;

/// <summary>Where a <see cref="StochasticLayer"/> takes its weight from.</summary>
internal enum WeightMode
{
    /// <summary>Stage 1: its own Gaussian per weight, parameters <c>weight_mu</c> and <c>weight_rho</c>.</summary>
    MeanField,
    /// <summary>Stage 3: a weight tensor drawn from the shared posterior and handed in before each forward pass.</summary>
    Shared,
    /// <summary>MC dropout: a point-estimate weight (<c>weight_mu</c>, no scale) that each draw masks.</summary>
    Point,
}
