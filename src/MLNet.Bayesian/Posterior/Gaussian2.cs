namespace MLNet.Bayesian.Posterior;

/// <summary>
/// A 2-D Gaussian in the posterior plane (x = weight mean, y = log posterior scale) with closed forms
/// for the quantities the construction needs: density, Mahalanobis distance, 2-Wasserstein distance, KL.
/// </summary>
public readonly record struct Gaussian2(double Mx, double My, double Sxx, double Sxy, double Syy)
{
    /// <summary>Determinant of the covariance.</summary>
    public double Det => Sxx * Syy - Sxy * Sxy;

    /// <summary>Squared Mahalanobis distance of (x, y) from the mean.</summary>
    public double Mahalanobis2(double x, double y)
    {
        double dx = x - Mx, dy = y - My, det = Det;
        return (Syy * dx * dx - 2 * Sxy * dx * dy + Sxx * dy * dy) / det;
    }

    /// <summary>Log density at (x, y).</summary>
    public double LogDensity(double x, double y) => -Math.Log(2 * Math.PI) - 0.5 * Math.Log(Det) - 0.5 * Mahalanobis2(x, y);

    /// <summary>
    /// Squared 2-Wasserstein distance: |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).
    /// For 2x2 SPD matrices tr(sqrt(A)) = sqrt(tr A + 2 sqrt(det A)), with tr A = tr(S1 S2) and
    /// det A = det S1 det S2, so no matrix square root is formed.
    /// </summary>
    public static double W2Squared(in Gaussian2 a, in Gaussian2 b)
    {
        double dx = a.Mx - b.Mx, dy = a.My - b.My;
        double trProduct = a.Sxx * b.Sxx + 2 * a.Sxy * b.Sxy + a.Syy * b.Syy;
        double detProduct = Math.Max(a.Det * b.Det, 0);
        double cross = Math.Sqrt(Math.Max(trProduct + 2 * Math.Sqrt(detProduct), 0));
        double value = dx * dx + dy * dy + a.Sxx + a.Syy + b.Sxx + b.Syy - 2 * cross;
        return Math.Max(value, 0);
    }

    /// <summary>KL(q || p) between two 2-D Gaussians.</summary>
    public static double KL(in Gaussian2 q, in Gaussian2 p)
    {
        double det = p.Det;
        // p's inverse covariance
        double ixx = p.Syy / det, ixy = -p.Sxy / det, iyy = p.Sxx / det;
        double trace = ixx * q.Sxx + 2 * ixy * q.Sxy + iyy * q.Syy;
        double dx = p.Mx - q.Mx, dy = p.My - q.My;
        double quad = ixx * dx * dx + 2 * ixy * dx * dy + iyy * dy * dy;
        return 0.5 * (trace + quad - 2 + Math.Log(det / q.Det));
    }

    /// <summary>Moment-matched Gaussian of a weighted set of Gaussians (weights need not sum to 1).</summary>
    public static Gaussian2 MomentMatch(IReadOnlyList<Gaussian2> parts, IReadOnlyList<double> weights)
    {
        double total = weights.Sum();
        double mx = 0, my = 0;
        for (int i = 0; i < parts.Count; i++) { mx += weights[i] * parts[i].Mx; my += weights[i] * parts[i].My; }
        mx /= total; my /= total;
        double sxx = 0, sxy = 0, syy = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            double w = weights[i] / total, dx = parts[i].Mx - mx, dy = parts[i].My - my;
            sxx += w * (parts[i].Sxx + dx * dx);
            sxy += w * (parts[i].Sxy + dx * dy);
            syy += w * (parts[i].Syy + dy * dy);
        }
        return new Gaussian2(mx, my, sxx, sxy, syy);
    }

    /// <summary>Lower Cholesky factor (l11, l21, l22) of the covariance.</summary>
    public (double L11, double L21, double L22) Cholesky()
    {
        double l11 = Math.Sqrt(Sxx);
        double l21 = Sxy / l11;
        double l22 = Math.Sqrt(Math.Max(Syy - l21 * l21, 1e-300));
        return (l11, l21, l22);
    }

    /// <summary>The Gaussian with covariance L L^T for a lower Cholesky factor.</summary>
    public static Gaussian2 FromCholesky(double mx, double my, double l11, double l21, double l22)
        => new(mx, my, l11 * l11, l11 * l21, l21 * l21 + l22 * l22);
}
