namespace MLNet.Bayesian.Posterior;

/// <summary>How the stage-1 posterior is turned into a shared one (2dgbnn.md, stage 2).</summary>
public sealed class SharedPosteriorOptions
{
    /// <summary>Fit one mixture per layer instead of one for the whole network.</summary>
    public bool PerLayer = false;
    /// <summary>Points below this quantile or above 1 - it, of mu or of log sigma, stay individual (0 disables).</summary>
    public double OutlierQuantile = 0.01;
    /// <summary>Weights with |mu| at or above this stay individual (PositiveInfinity disables).</summary>
    public double MuThreshold = 0.2;
    /// <summary>Fraction of weights with the largest gradient magnitude that stay individual (0 disables).</summary>
    public double GradientFraction = 0.01;
    /// <summary>Number of mixture components per pool (an upper bound: a pool gets at most one per MinMembers + 1 inliers).</summary>
    public int ComponentBudget = 256;
    /// <summary>When set, the component count is chosen by BIC among these values instead of the budget.</summary>
    public int[]? BicCandidates = null;
    /// <summary>Components with at most this many members are dropped; their members join the nearest remaining component.</summary>
    public int MinMembers = 20;
    /// <summary>When true, members of dropped components become outliers instead.</summary>
    public bool DroppedMembersBecomeOutliers = false;
    /// <summary>A point whose squared Mahalanobis distance to its component exceeds this is blended between its two most responsible components (chi-square 95%, 2 dof).</summary>
    public double EllipseThreshold = 5.991;
    /// <summary>Components closer than this squared 2-Wasserstein distance are merged (0 disables).</summary>
    public double MergeThreshold = 1e-5;
    /// <summary>EM settings.</summary>
    public MixtureFitOptions Mixture = new();
    /// <summary>Seed of the subsampling and the k-means++ start.</summary>
    public int Seed = 1;

    /// <summary>Checks every setting; the error names the option (prefixed "SharedPosterior.").</summary>
    public void Validate()
    {
        const string P = "SharedPosterior.";
        OptionCheck.Within(P + nameof(OutlierQuantile), OutlierQuantile, 0, 0.5);
        OptionCheck.PositiveOrInfinity(P + nameof(MuThreshold), MuThreshold);
        OptionCheck.Within(P + nameof(GradientFraction), GradientFraction, 0, 1);
        OptionCheck.AtLeast(P + nameof(ComponentBudget), ComponentBudget, 1);
        if (BicCandidates is not null)
            foreach (int k in BicCandidates) OptionCheck.AtLeast(P + nameof(BicCandidates), k, 1);
        OptionCheck.AtLeast(P + nameof(MinMembers), MinMembers, 0);
        OptionCheck.PositiveOrInfinity(P + nameof(EllipseThreshold), EllipseThreshold);
        OptionCheck.NonNegative(P + nameof(MergeThreshold), MergeThreshold);
        if (Mixture is null) throw new ArgumentNullException(P + nameof(Mixture));
        OptionCheck.AtLeast(P + "Mixture." + nameof(MixtureFitOptions.MaxIterations), Mixture.MaxIterations, 1);
        OptionCheck.NonNegative(P + "Mixture." + nameof(MixtureFitOptions.Tolerance), Mixture.Tolerance);
        OptionCheck.Positive(P + "Mixture." + nameof(MixtureFitOptions.CovarianceFloor), Mixture.CovarianceFloor);
        OptionCheck.AtLeast(P + "Mixture." + nameof(MixtureFitOptions.MaxPoints), Mixture.MaxPoints, 0);
        OptionCheck.NonNegative(P + "Mixture." + nameof(MixtureFitOptions.AbsoluteWeightVarianceFloor), Mixture.AbsoluteWeightVarianceFloor);
        OptionCheck.NonNegative(P + "Mixture." + nameof(MixtureFitOptions.AbsoluteLogSigmaVarianceFloor), Mixture.AbsoluteLogSigmaVarianceFloor);
        if (Mixture.MaxDegreeOfParallelism != -1)
            OptionCheck.AtLeast(P + "Mixture." + nameof(MixtureFitOptions.MaxDegreeOfParallelism), Mixture.MaxDegreeOfParallelism, 1, "or -1 for every core");
    }
}
