namespace MLNet.Bayesian.Posterior;

/// <summary>
/// What stage 1 learned about the posterior scales: the spread of log sigma over every Bayesian weight, and whether it
/// follows the curvature (the empirical Fisher, the mean squared gradient over the last stage-1 epoch). A posterior
/// that knows something has small sigma where the loss is curved: a clearly negative rank correlation. A flat log
/// sigma (every weight at the same value) means the variance parameters did not learn, and stage 2's second axis
/// would then hold nothing but the initial value.
/// </summary>
/// <param name="Weights">Weights measured.</param>
/// <param name="LogSigmaSd">Standard deviation of log sigma (nats).</param>
/// <param name="LogSigmaP01">1st percentile of log sigma.</param>
/// <param name="LogSigmaP99">99th percentile of log sigma.</param>
/// <param name="SpearmanWithFisher">Spearman rank correlation of log sigma with the empirical Fisher (NaN without it), on an even
/// sample of <see cref="SpearmanSampleSize"/> weights when there are more.</param>
public sealed record MeanFieldSigmaDiagnostics(long Weights, double LogSigmaSd, double LogSigmaP01, double LogSigmaP99, double SpearmanWithFisher)
{
    /// <summary>Measures <paramref name="logSigma"/> against <paramref name="fisher"/> (same length; null leaves the correlation NaN).</summary>
    public static MeanFieldSigmaDiagnostics Measure(IReadOnlyList<double> logSigma, IReadOnlyList<double>? fisher)
    {
        ArgumentNullException.ThrowIfNull(logSigma);
        if (logSigma.Count == 0) throw new ArgumentException("No weights to measure.", nameof(logSigma));
        if (fisher is not null && fisher.Count != logSigma.Count)
            throw new ArgumentException($"{fisher.Count} Fisher values for {logSigma.Count} weights.", nameof(fisher));
        var values = logSigma.ToArray();
        double mean = values.Average();
        double sd = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
        double rho = fisher is null ? double.NaN : SpearmanOnEvenSample(values, fisher);
        // Selection reorders its input: a copy, so the correlation above and the caller's order are untouched.
        var scratch = (double[])values.Clone();
        double p01 = OrderStatistics.Quantile(scratch, 0.01), p99 = OrderStatistics.Quantile(scratch, 0.99);
        return new MeanFieldSigmaDiagnostics(values.Length, sd, p01, p99, rho);
    }

    /// <summary>Above this many weights, the correlation is measured on this many, evenly spread.</summary>
    public const int SpearmanSampleSize = 1 << 20;

    // Ranking is two sorts of every weight: 13 s on ResNet-50's 23 million, twice a run. An even sample of a million
    // weights pins a rank correlation down to about 0.001, finer than anything read from it.
    static double SpearmanOnEvenSample(double[] logSigma, IReadOnlyList<double> fisher)
    {
        int n = logSigma.Length;
        if (n <= SpearmanSampleSize) return Spearman(logSigma, fisher.ToArray());
        var a = new double[SpearmanSampleSize];
        var b = new double[SpearmanSampleSize];
        for (int i = 0; i < SpearmanSampleSize; i++)
        {
            int at = (int)((long)i * n / SpearmanSampleSize);
            (a[i], b[i]) = (logSigma[at], fisher[at]);
        }
        return Spearman(a, b);
    }

    /// <summary>Spearman's rank correlation (average ranks for ties); NaN when either side is constant.</summary>
    public static double Spearman(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException("Both sides need the same length.");
        var ra = Ranks(a);
        var rb = Ranks(b);
        double ma = ra.Average(), mb = rb.Average();
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < ra.Length; i++)
        {
            double da = ra[i] - ma, db = rb[i] - mb;
            sab += da * db; saa += da * da; sbb += db * db;
        }
        return saa == 0 || sbb == 0 ? double.NaN : sab / Math.Sqrt(saa * sbb);
    }

    static double[] Ranks(double[] values)
    {
        // Array.Sort of the values with their indices: LINQ's OrderBy with a key selector took 10 s per side on
        // ResNet-50's 23 million weights, most of a small training run. Ties get the average rank whatever their order.
        var sorted = (double[])values.Clone();
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(sorted, order);
        var ranks = new double[values.Length];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && sorted[end + 1] == sorted[start]) end++;
            double rank = (start + end) / 2.0;
            for (int j = start; j <= end; j++) ranks[order[j]] = rank;
            start = end + 1;
        }
        return ranks;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"log sigma sd {LogSigmaSd:G3} nats, 1-99% [{LogSigmaP01:F3}, {LogSigmaP99:F3}] over {Weights:N0} weights, Spearman with the empirical Fisher {SpearmanWithFisher:F2}";
}
