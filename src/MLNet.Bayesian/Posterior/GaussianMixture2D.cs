namespace MLNet.Bayesian.Posterior;

/// <summary>Settings of <see cref="GaussianMixture2D.Fit(double[], double[], int, int, MixtureFitOptions?)"/>.</summary>
public sealed class MixtureFitOptions
{
    /// <summary>Most EM iterations.</summary>
    public int MaxIterations = 100;
    /// <summary>EM stops when the mean log-likelihood per point improves by less than this.</summary>
    public double Tolerance = 1e-6;
    /// <summary>Added to each variance, relative to the data's variance in that coordinate, to keep covariances invertible.</summary>
    public double CovarianceFloor = 1e-6;
    /// <summary>EM runs on a random subsample of at most this many points (0: all); the result then scores every point.</summary>
    public int MaxPoints = 20_000;
}

/// <summary>Which component(s) a point belongs to: the two most responsible, their responsibilities, and its distance.</summary>
public readonly record struct MixtureAssignment(int First, int Second, double FirstResponsibility, double SecondResponsibility, double Mahalanobis2ToFirst);

/// <summary>
/// A Gaussian mixture in the plane with full 2x2 covariances, fitted by EM from a k-means++ start.
/// EM runs on standardised coordinates so that the covariance floor means the same on every scale.
/// </summary>
public sealed class GaussianMixture2D
{
    readonly Precomputed[] _pre;

    GaussianMixture2D(Gaussian2[] components, double[] weights)
    {
        Components = components;
        Weights = weights;
        _pre = Precompute(components, weights);
    }

    /// <summary>The fitted components, in the original coordinates.</summary>
    public Gaussian2[] Components { get; }
    /// <summary>Mixing weights (sum to 1).</summary>
    public double[] Weights { get; }
    /// <summary>Number of components.</summary>
    public int Count => Components.Length;
    /// <summary>Free parameters: 2 means + 3 covariance entries per component, and K - 1 weights.</summary>
    public int ParameterCount => 6 * Count - 1;

    /// <summary>Builds a mixture from given components (used after merging and for tests).</summary>
    public static GaussianMixture2D FromComponents(Gaussian2[] components, double[] weights)
    {
        if (components.Length != weights.Length || components.Length == 0)
            throw new ArgumentException("A mixture needs at least one component and one weight per component.");
        double total = weights.Sum();
        return new GaussianMixture2D(components, weights.Select(w => w / total).ToArray());
    }

    /// <summary>Fits <paramref name="k"/> components by EM with a seeded k-means++ start.</summary>
    public static GaussianMixture2D Fit(double[] xs, double[] ys, int k, int seed, MixtureFitOptions? options = null)
        => Fit(xs, ys, k, seed, options, null);

    internal static GaussianMixture2D Fit(double[] xs, double[] ys, int k, int seed, MixtureFitOptions? options, BuildPhases? phases)
    {
        options ??= new MixtureFitOptions();
        if (xs.Length != ys.Length) throw new ArgumentException("x and y must have the same length.");
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), "at least one component is needed");
        if (xs.Length < k) throw new ArgumentException($"{xs.Length} points cannot support {k} components.");
        var rng = new Random(seed);
        (double[] px, double[] py) = Subsample(xs, ys, options.MaxPoints, rng);
        int n = px.Length;
        phases?.Mark("subsample");

        // Standardise.
        double mx = px.Average(), my = py.Average();
        double sx = Math.Sqrt(px.Select(v => (v - mx) * (v - mx)).Average());
        double sy = Math.Sqrt(py.Select(v => (v - my) * (v - my)).Average());
        if (sx <= 0) sx = 1;
        if (sy <= 0) sy = 1;
        var x = px.Select(v => (v - mx) / sx).ToArray();
        var y = py.Select(v => (v - my) / sy).ToArray();

        phases?.Mark("standardise");
        var comps = KMeansPlusPlusStart(x, y, k, rng, phases);
        var weights = Enumerable.Repeat(1.0 / k, k).ToArray();
        var resp = new double[n * k];
        double previous = double.NegativeInfinity;
        for (int iter = 0; iter < options.MaxIterations; iter++)
        {
            double ll = EStep(x, y, comps, weights, resp);
            phases?.Mark("EM E-step");
            MStep(x, y, resp, comps, weights, options.CovarianceFloor);
            phases?.Mark("EM M-step");
            if (ll - previous < options.Tolerance * n) break;
            previous = ll;
        }

        var original = comps.Select(c => new Gaussian2(c.Mx * sx + mx, c.My * sy + my,
            c.Sxx * sx * sx, c.Sxy * sx * sy, c.Syy * sy * sy)).ToArray();
        return new GaussianMixture2D(original, weights);
    }

    /// <summary>Fits every count in <paramref name="counts"/> and keeps the one with the lowest BIC.</summary>
    public static (GaussianMixture2D Best, IReadOnlyList<(int K, double Bic)> Scores) FitByBic(
        double[] xs, double[] ys, IEnumerable<int> counts, int seed, MixtureFitOptions? options = null)
    {
        GaussianMixture2D? best = null;
        double bestBic = double.PositiveInfinity;
        var scores = new List<(int, double)>();
        foreach (int k in counts)
        {
            var model = Fit(xs, ys, k, seed, options);
            double bic = model.Bic(xs, ys);
            scores.Add((k, bic));
            if (bic < bestBic) { bestBic = bic; best = model; }
        }
        return (best ?? throw new ArgumentException("No component count was given."), scores);
    }

    /// <summary>Total log-likelihood of the points.</summary>
    public double LogLikelihood(double[] xs, double[] ys)
    {
        double total = 0;
        var logs = new double[Count];
        for (int i = 0; i < xs.Length; i++)
        {
            for (int c = 0; c < Count; c++) logs[c] = _pre[c].LogWeightedDensity(xs[i], ys[i]);
            total += LogSumExp(logs);
        }
        return total;
    }

    /// <summary>Bayesian information criterion: -2 log L + p log n.</summary>
    public double Bic(double[] xs, double[] ys) => -2 * LogLikelihood(xs, ys) + ParameterCount * Math.Log(xs.Length);

    /// <summary>The two most responsible components of a point.</summary>
    public MixtureAssignment Assign(double x, double y) => Assign(x, y, null);

    /// <summary>Point-times-component evaluations above which <see cref="AssignAll"/> switches to the grid index.</summary>
    public const long ExactAssignmentBudget = 200_000_000;

    /// <summary>
    /// Assigns many points in parallel. Exact while points x components stays under
    /// <see cref="ExactAssignmentBudget"/>; above it, each point is compared only with the components that
    /// dominate its cell of a 128 x 128 grid over the points' range (2dgbnn.md: never quadratic at scale).
    /// </summary>
    public MixtureAssignment[] AssignAll(double[] xs, double[] ys, long exactBudget = ExactAssignmentBudget)
    {
        var result = new MixtureAssignment[xs.Length];
        if ((long)xs.Length * Count <= exactBudget)
        {
            Parallel.For(0, xs.Length, i => result[i] = Assign(xs[i], ys[i], null));
            return result;
        }
        var grid = new CandidateGrid(this, xs, ys);
        Parallel.For(0, xs.Length, i => result[i] = Assign(xs[i], ys[i], grid.Candidates(xs[i], ys[i])));
        return result;
    }

    MixtureAssignment Assign(double x, double y, int[]? candidates)
    {
        int first = -1, second = -1;
        double l1 = double.NegativeInfinity, l2 = double.NegativeInfinity, norm = double.NegativeInfinity;
        int total = candidates?.Length ?? Count;
        for (int j = 0; j < total; j++)
        {
            int c = candidates is null ? j : candidates[j];
            double l = _pre[c].LogWeightedDensity(x, y);
            norm = LogAdd(norm, l);
            if (l > l1) { second = first; l2 = l1; first = c; l1 = l; }
            else if (l > l2) { second = c; l2 = l; }
        }
        if (second < 0) second = first;
        return new MixtureAssignment(first, second, Math.Exp(l1 - norm), second == first ? 0 : Math.Exp(l2 - norm),
            Components[first].Mahalanobis2(x, y));
    }

    /// <summary>
    /// For each cell of a grid over the points' range, the components with the highest weighted density at the
    /// cell's centre and corners: the only ones that can matter for a point in that cell, unless it is
    /// nearly equidistant from many far components (then responsibilities are approximate, the choice still sound).
    /// </summary>
    sealed class CandidateGrid
    {
        const int Cells = 128, PerCell = 16;
        readonly double _x0, _y0, _dx, _dy;
        readonly int[][] _candidates;

        public CandidateGrid(GaussianMixture2D mixture, double[] xs, double[] ys)
        {
            _x0 = xs.Min(); _y0 = ys.Min();
            _dx = Math.Max((xs.Max() - _x0) / Cells, 1e-300);
            _dy = Math.Max((ys.Max() - _y0) / Cells, 1e-300);
            _candidates = new int[Cells * Cells][];
            int keep = Math.Min(PerCell, mixture.Count);
            Parallel.For(0, Cells * Cells, cell =>
            {
                int cx = cell % Cells, cy = cell / Cells;
                var best = new double[mixture.Count];
                for (int c = 0; c < mixture.Count; c++)
                {
                    double m = double.NegativeInfinity;
                    foreach (var (fx, fy) in Probes)
                        m = Math.Max(m, mixture._pre[c].LogWeightedDensity(_x0 + (cx + fx) * _dx, _y0 + (cy + fy) * _dy));
                    best[c] = m;
                }
                var order = Enumerable.Range(0, mixture.Count).ToArray();
                var keys = best.Select(v => -v).ToArray();
                Array.Sort(keys, order);
                _candidates[cell] = order.Take(keep).ToArray();
            });
        }

        static readonly (double, double)[] Probes = { (0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1) };

        public int[] Candidates(double x, double y)
        {
            int cx = Math.Clamp((int)((x - _x0) / _dx), 0, Cells - 1);
            int cy = Math.Clamp((int)((y - _y0) / _dy), 0, Cells - 1);
            return _candidates[cy * Cells + cx];
        }
    }

    static (double[], double[]) Subsample(double[] xs, double[] ys, int max, Random rng)
    {
        if (max <= 0 || xs.Length <= max) return (xs, ys);
        var idx = Enumerable.Range(0, xs.Length).ToArray();
        for (int i = 0; i < max; i++) { int j = rng.Next(i, idx.Length); (idx[i], idx[j]) = (idx[j], idx[i]); }
        return (idx.Take(max).Select(i => xs[i]).ToArray(), idx.Take(max).Select(i => ys[i]).ToArray());
    }

    static Gaussian2[] KMeansPlusPlusStart(double[] x, double[] y, int k, Random rng, BuildPhases? phases)
    {
        int n = x.Length;
        int firstIndex = rng.Next(n);
        var centres = new List<(double X, double Y)> { (x[firstIndex], y[firstIndex]) };
        var d2 = new double[n];
        for (int i = 0; i < n; i++) d2[i] = Sq(x[i] - centres[0].X) + Sq(y[i] - centres[0].Y);
        while (centres.Count < k)
        {
            double total = d2.Sum();
            int pick;
            if (total <= 0) pick = rng.Next(n);
            else
            {
                double u = rng.NextDouble() * total, acc = 0;
                pick = n - 1;
                for (int i = 0; i < n; i++) { acc += d2[i]; if (acc >= u) { pick = i; break; } }
            }
            centres.Add((x[pick], y[pick]));
            for (int i = 0; i < n; i++) d2[i] = Math.Min(d2[i], Sq(x[i] - x[pick]) + Sq(y[i] - y[pick]));
        }
        phases?.Mark("k-means++ seeding");
        // A few Lloyd iterations give EM a start whose covariances come from real clusters.
        var label = new int[n];
        for (int iter = 0; iter < 10; iter++)
        {
            for (int i = 0; i < n; i++)
            {
                double best = double.PositiveInfinity;
                for (int c = 0; c < k; c++)
                {
                    double d = Sq(x[i] - centres[c].X) + Sq(y[i] - centres[c].Y);
                    if (d < best) { best = d; label[i] = c; }
                }
            }
            var sum = new double[k, 3];
            for (int i = 0; i < n; i++) { sum[label[i], 0] += x[i]; sum[label[i], 1] += y[i]; sum[label[i], 2]++; }
            for (int c = 0; c < k; c++)
                if (sum[c, 2] > 0) centres[c] = (sum[c, 0] / sum[c, 2], sum[c, 1] / sum[c, 2]);
        }
        phases?.Mark("Lloyd");
        double spread = 1.0 / k;
        return centres.Select(c => new Gaussian2(c.X, c.Y, spread, 0, spread)).ToArray();
    }

    /// <summary>Per-component constants of the log density: log weight + normaliser, and the inverse covariance.</summary>
    readonly struct Precomputed
    {
        public readonly double Mx, My, Ixx, Ixy, Iyy, LogConst;
        public Precomputed(in Gaussian2 g, double weight)
        {
            double det = g.Det;
            Mx = g.Mx; My = g.My;
            Ixx = g.Syy / det; Ixy = -g.Sxy / det; Iyy = g.Sxx / det;
            LogConst = Math.Log(Math.Max(weight, 1e-300)) - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det);
        }
        public double LogWeightedDensity(double x, double y)
        {
            double dx = x - Mx, dy = y - My;
            return LogConst - 0.5 * (Ixx * dx * dx + 2 * Ixy * dx * dy + Iyy * dy * dy);
        }
    }

    static Precomputed[] Precompute(Gaussian2[] comps, double[] weights)
        => comps.Select((c, i) => new Precomputed(c, weights[i])).ToArray();

    static double EStep(double[] x, double[] y, Gaussian2[] comps, double[] weights, double[] resp)
    {
        int n = x.Length, k = comps.Length;
        var pre = Precompute(comps, weights);
        const int chunk = 4096;
        int chunks = (n + chunk - 1) / chunk;
        var partial = new double[chunks];
        Parallel.For(0, chunks, b =>
        {
            double ll = 0;
            int end = Math.Min(n, (b + 1) * chunk);
            for (int i = b * chunk; i < end; i++)
            {
                int row = i * k;
                double max = double.NegativeInfinity;
                for (int c = 0; c < k; c++)
                {
                    double l = pre[c].LogWeightedDensity(x[i], y[i]);
                    resp[row + c] = l;
                    if (l > max) max = l;
                }
                double sum = 0;
                for (int c = 0; c < k; c++) { resp[row + c] = Math.Exp(resp[row + c] - max); sum += resp[row + c]; }
                for (int c = 0; c < k; c++) resp[row + c] /= sum;
                ll += max + Math.Log(sum);
            }
            partial[b] = ll;
        });
        return partial.Sum();
    }

    static void MStep(double[] x, double[] y, double[] resp, Gaussian2[] comps, double[] weights, double floor)
    {
        int n = x.Length, k = comps.Length;
        for (int c = 0; c < k; c++)
        {
            double nk = 0, sx = 0, sy = 0;
            for (int i = 0; i < n; i++) { double r = resp[i * k + c]; nk += r; sx += r * x[i]; sy += r * y[i]; }
            if (nk < 1e-10)
            {
                // An empty component keeps its place with a tiny weight instead of producing NaNs.
                weights[c] = 1e-10;
                continue;
            }
            double mx = sx / nk, my = sy / nk, cxx = 0, cxy = 0, cyy = 0;
            for (int i = 0; i < n; i++)
            {
                double r = resp[i * k + c], dx = x[i] - mx, dy = y[i] - my;
                cxx += r * dx * dx; cxy += r * dx * dy; cyy += r * dy * dy;
            }
            comps[c] = new Gaussian2(mx, my, cxx / nk + floor, cxy / nk, cyy / nk + floor);
            weights[c] = nk / n;
        }
        double total = weights.Sum();
        for (int c = 0; c < k; c++) weights[c] /= total;
    }

    static double Sq(double v) => v * v;
    static double LogAdd(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        double m = Math.Max(a, b);
        return m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m));
    }
    static double LogSumExp(double[] v)
    {
        double m = v.Max(), s = 0;
        foreach (double e in v) s += Math.Exp(e - m);
        return m + Math.Log(s);
    }
}
