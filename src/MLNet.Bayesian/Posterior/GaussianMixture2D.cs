using System.Numerics;
using System.Runtime.CompilerServices;

namespace MLNet.Bayesian.Posterior;

/// <summary>Settings of <see cref="GaussianMixture2D.Fit(double[], double[], int, int, MixtureFitOptions?)"/>.</summary>
public sealed class MixtureFitOptions
{
    /// <summary>
    /// Most threads the fit (and the builder's assignments) may use; -1: as many as there are cores. The result
    /// does not depend on it: work is cut into fixed chunks whose sums are added in order.
    /// </summary>
    public int MaxDegreeOfParallelism = -1;
    /// <summary>Most EM iterations.</summary>
    public int MaxIterations = 100;
    /// <summary>EM stops when the mean log-likelihood per point improves by less than this.</summary>
    public double Tolerance = 1e-6;
    /// <summary>Added to each variance, relative to the data's variance in that coordinate, to keep covariances invertible.</summary>
    public double CovarianceFloor = 1e-6;
    /// <summary>
    /// Least variance of a component's weight coordinate in original units (added as the relative floor is, whichever
    /// is larger). Why: the relative floor follows the data, so data with almost no spread get components of almost
    /// no width; they become stage 3's prior, where such a width makes the KL explode.
    /// </summary>
    public double AbsoluteWeightVarianceFloor = 1e-10;
    /// <summary>
    /// Least variance of a component's log-sigma coordinate in original units (nats squared; see
    /// <see cref="AbsoluteWeightVarianceFloor"/>). 1e-4 is a standard deviation of 0.01 nats, 1% in sigma: finer
    /// differences in sigma mean nothing for a prediction.
    /// </summary>
    public double AbsoluteLogSigmaVarianceFloor = 1e-4;
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
    readonly MixtureDensities _densities;
    // Scalar constants per component, for the grid path's few scattered candidates.
    readonly Precomputed[] _pre;

    GaussianMixture2D(Gaussian2[] components, double[] weights)
    {
        Components = components;
        Weights = weights;
        _densities = new MixtureDensities(components, weights);
        _pre = components.Select((c, i) => new Precomputed(c, weights[i])).ToArray();
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

        // The floors in standardised units: the relative one as it is, the absolute ones divided by the data's variance.
        double floorX = Math.Max(options.CovarianceFloor, options.AbsoluteWeightVarianceFloor / (sx * sx));
        double floorY = Math.Max(options.CovarianceFloor, options.AbsoluteLogSigmaVarianceFloor / (sy * sy));
        phases?.Mark("standardise");
        var comps = KMeansStart.Components(x, y, k, rng, options.MaxDegreeOfParallelism, phases);
        var weights = Enumerable.Repeat(1.0 / k, k).ToArray();
        var em = new MixtureEm(x, y, k, options.MaxDegreeOfParallelism);
        double previous = double.NegativeInfinity;
        for (int iter = 0; iter < options.MaxIterations; iter++)
        {
            double ll = em.Iterate(comps, weights, floorX, floorY);
            phases?.Mark("EM iteration (fused E+M)");
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
        options ??= new MixtureFitOptions();
        var ks = counts.ToArray();
        if (ks.Length == 0) throw new ArgumentException("No component count was given.");
        // Each candidate is its own seeded fit, so fitting them side by side changes nothing but the time.
        var models = new GaussianMixture2D[ks.Length];
        var bics = new double[ks.Length];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism };
        Parallel.For(0, ks.Length, parallel, i =>
        {
            models[i] = Fit(xs, ys, ks[i], seed, options);
            bics[i] = models[i].Bic(xs, ys, options.MaxDegreeOfParallelism);
        });
        int best = 0;
        for (int i = 1; i < ks.Length; i++) if (bics[i] < bics[best]) best = i;
        return (models[best], ks.Select((k, i) => (k, bics[i])).ToList());
    }

    /// <summary>Total log-likelihood of the points.</summary>
    public double LogLikelihood(double[] xs, double[] ys) => LogLikelihood(xs, ys, -1);

    double LogLikelihood(double[] xs, double[] ys, int maxDegreeOfParallelism)
    {
        int chunks = (xs.Length + AssignChunk - 1) / AssignChunk;
        var partial = new double[chunks];
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, b =>
        {
            var logs = new double[_densities.Padded];
            double total = 0;
            int end = Math.Min(xs.Length, (b + 1) * AssignChunk);
            for (int i = b * AssignChunk; i < end; i++)
            {
                _densities.LogDensities(xs[i], ys[i], logs);
                total += MixtureDensities.LogSumExp(logs, logs[MixtureDensities.ArgMax(logs, Count)]);
            }
            partial[b] = total;
        });
        double sum = 0;
        foreach (double v in partial) sum += v;
        return sum;
    }

    /// <summary>Bayesian information criterion: -2 log L + p log n.</summary>
    public double Bic(double[] xs, double[] ys) => Bic(xs, ys, -1);

    double Bic(double[] xs, double[] ys, int maxDegreeOfParallelism)
        => -2 * LogLikelihood(xs, ys, maxDegreeOfParallelism) + ParameterCount * Math.Log(xs.Length);

    // Points per unit of parallel work when scoring many points: large enough to amortise the scratch buffer.
    const int AssignChunk = 4096;

    /// <summary>The two most responsible components of a point.</summary>
    public MixtureAssignment Assign(double x, double y) => Assign(x, y, null, new double[_densities.Padded]);

    /// <summary>Point-times-component evaluations above which <see cref="AssignAll"/> switches to the grid index.</summary>
    public const long ExactAssignmentBudget = 200_000_000;

    /// <summary>
    /// Assigns many points in parallel. Exact while points x components stays under
    /// <see cref="ExactAssignmentBudget"/>; above it, each point is compared only with the components that
    /// dominate its cell of a 128 x 128 grid over the points' range (2dgbnn.md: never quadratic at scale).
    /// </summary>
    public MixtureAssignment[] AssignAll(double[] xs, double[] ys, long exactBudget = ExactAssignmentBudget, int maxDegreeOfParallelism = -1)
    {
        var result = new MixtureAssignment[xs.Length];
        var grid = GridFor(xs, ys, exactBudget, maxDegreeOfParallelism);
        ForEachChunk(xs.Length, maxDegreeOfParallelism, (start, end, logs) =>
        {
            for (int i = start; i < end; i++) result[i] = Assign(xs[i], ys[i], grid, logs);
        });
        return result;
    }

    /// <summary>
    /// Only each point's most responsible component, as <see cref="AssignAll"/> would name it (exact or grid by the
    /// same budget); no responsibilities, so no exponentials: what dropping small components needs.
    /// </summary>
    internal int[] FirstChoices(double[] xs, double[] ys, int maxDegreeOfParallelism, long exactBudget = ExactAssignmentBudget)
    {
        var result = new int[xs.Length];
        var grid = GridFor(xs, ys, exactBudget, maxDegreeOfParallelism);
        ForEachChunk(xs.Length, maxDegreeOfParallelism, (start, end, logs) =>
        {
            for (int i = start; i < end; i++) result[i] = FirstChoice(xs[i], ys[i], grid);
        });
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    int FirstChoice(double x, double y, CandidateGrid? grid)
    {
        if (grid is null) return _densities.ArgMax(x, y);
        int[] candidates = grid.Candidates(x, y);
        int first = candidates[0];
        double l1 = _pre[first].LogWeightedDensity(x, y);
        for (int j = 1; j < candidates.Length; j++)
        {
            double l = _pre[candidates[j]].LogWeightedDensity(x, y);
            if (l > l1) { l1 = l; first = candidates[j]; }
        }
        return first;
    }

    /// <summary>
    /// What the builder needs of every point: its most responsible component (as <see cref="AssignAll"/> names it),
    /// and the full assignment only for the points whose squared Mahalanobis distance to that component exceeds
    /// <paramref name="farBeyond"/> (the ellipse candidates, a small share), so only they pay for exponentials.
    /// </summary>
    internal (int[] First, int[] Far, MixtureAssignment[] FarAssignments) AssignFirstAndFar(double[] xs, double[] ys, double farBeyond,
        int maxDegreeOfParallelism, long exactBudget = ExactAssignmentBudget)
    {
        var first = new int[xs.Length];
        var isFar = new bool[xs.Length];
        var grid = GridFor(xs, ys, exactBudget, maxDegreeOfParallelism);
        ForEachChunk(xs.Length, maxDegreeOfParallelism, (start, end, logs) =>
        {
            for (int i = start; i < end; i++)
            {
                first[i] = FirstChoice(xs[i], ys[i], grid);
                isFar[i] = Components[first[i]].Mahalanobis2(xs[i], ys[i]) > farBeyond;
            }
        });
        var far = Enumerable.Range(0, xs.Length).Where(i => isFar[i]).ToArray();
        var farAssignments = new MixtureAssignment[far.Length];
        ForEachChunk(far.Length, maxDegreeOfParallelism, (start, end, logs) =>
        {
            for (int j = start; j < end; j++) farAssignments[j] = Assign(xs[far[j]], ys[far[j]], grid, logs);
        });
        return (first, far, farAssignments);
    }

    /// <summary>The grid index when points x components exceed <paramref name="exactBudget"/>; null: compare with every component.</summary>
    CandidateGrid? GridFor(double[] xs, double[] ys, long exactBudget, int maxDegreeOfParallelism)
        => (long)xs.Length * Count <= exactBudget ? null : new CandidateGrid(this, xs, ys, maxDegreeOfParallelism);

    void ForEachChunk(int n, int maxDegreeOfParallelism, Action<int, int, double[]> body)
    {
        int chunks = (n + AssignChunk - 1) / AssignChunk;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism },
            b => body(b * AssignChunk, Math.Min(n, (b + 1) * AssignChunk), new double[_densities.Padded]));
    }

    /// <summary>Top two components in scan order (a tie keeps the earlier one) and their responsibilities among the scanned ones.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    MixtureAssignment Assign(double x, double y, CandidateGrid? grid, double[] logs)
    {
        int[]? candidates = grid?.Candidates(x, y);
        int total, padded;
        if (candidates is null)
        {
            _densities.LogDensities(x, y, logs);
            (total, padded) = (Count, _densities.Padded);
        }
        else
        {
            // Candidates are few and scattered over the components: scalar densities from the small per-component
            // table (it stays in cache), with -infinity padding up to whole vectors for the exponentials.
            total = candidates.Length;
            padded = (total + Vector<double>.Count - 1) / Vector<double>.Count * Vector<double>.Count;
            for (int j = 0; j < total; j++) logs[j] = _pre[candidates[j]].LogWeightedDensity(x, y);
            for (int j = total; j < padded; j++) logs[j] = double.NegativeInfinity;
        }
        int first = -1, second = -1;
        double l1 = double.NegativeInfinity, l2 = double.NegativeInfinity;
        for (int j = 0; j < total; j++)
        {
            double l = logs[j];
            if (l > l1) { second = first; l2 = l1; first = j; l1 = l; }
            else if (l > l2) { second = j; l2 = l; }
        }
        double norm = MixtureDensities.LogSumExp(logs.AsSpan(0, padded), l1);
        if (candidates is not null) { first = candidates[first]; second = second < 0 ? -1 : candidates[second]; }
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

        public CandidateGrid(GaussianMixture2D mixture, double[] xs, double[] ys, int maxDegreeOfParallelism)
        {
            _x0 = xs.Min(); _y0 = ys.Min();
            _dx = Math.Max((xs.Max() - _x0) / Cells, 1e-300);
            _dy = Math.Max((ys.Max() - _y0) / Cells, 1e-300);
            _candidates = new int[Cells * Cells][];
            int keep = Math.Min(PerCell, mixture.Count);
            Parallel.For(0, Cells * Cells, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, cell =>
            {
                int cx = cell % Cells, cy = cell / Cells;
                var best = new double[mixture._densities.Padded];
                var logs = new double[mixture._densities.Padded];
                Array.Fill(best, double.NegativeInfinity);
                foreach (var (fx, fy) in Probes)
                {
                    mixture._densities.LogDensities(_x0 + (cx + fx) * _dx, _y0 + (cy + fy) * _dy, logs);
                    for (int c = 0; c < best.Length; c++) best[c] = Math.Max(best[c], logs[c]);
                }
                Array.Resize(ref best, mixture.Count);
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
        // The first max steps of a Fisher-Yates shuffle of 0..n-1, with only the moved entries stored: the same
        // draws and the same subsample as shuffling a full index array, without one of tens of millions of entries.
        var moved = new Dictionary<int, int>(2 * max);
        var px = new double[max];
        var py = new double[max];
        for (int i = 0; i < max; i++)
        {
            int j = rng.Next(i, xs.Length);
            int atJ = moved.GetValueOrDefault(j, j);
            moved[j] = moved.GetValueOrDefault(i, i);
            px[i] = xs[atJ];
            py[i] = ys[atJ];
        }
        return (px, py);
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
}
