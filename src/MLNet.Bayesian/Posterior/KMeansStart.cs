using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// EM's starting components: seeded k-means++ centres refined by a few Lloyd iterations, so the start's
/// covariances come from real clusters. The Lloyd step compares a point with all centres in double vectors;
/// its sums are taken per fixed chunk and added in chunk order, so the start does not depend on the core count.
/// </summary>
internal static class KMeansStart
{
    const int LloydIterations = 10, ChunkSize = 1024;

    public static Gaussian2[] Components(double[] x, double[] y, int k, Random rng, int maxDegreeOfParallelism, BuildPhases? phases)
    {
        var (cx, cy) = PlusPlus(x, y, k, rng);
        phases?.Mark("k-means++ seeding");
        Lloyd(x, y, cx, cy, maxDegreeOfParallelism);
        phases?.Mark("Lloyd");
        double spread = 1.0 / k;
        return Enumerable.Range(0, k).Select(c => new Gaussian2(cx[c], cy[c], spread, 0, spread)).ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static (double[] X, double[] Y) PlusPlus(double[] x, double[] y, int k, Random rng)
    {
        int n = x.Length;
        var cx = new double[k];
        var cy = new double[k];
        int first = rng.Next(n);
        cx[0] = x[first]; cy[0] = y[first];
        var d2 = new double[n];
        for (int i = 0; i < n; i++) d2[i] = Sq(x[i] - cx[0]) + Sq(y[i] - cy[0]);
        for (int c = 1; c < k; c++)
        {
            double total = 0;
            for (int i = 0; i < n; i++) total += d2[i];
            int pick;
            if (total <= 0) pick = rng.Next(n);
            else
            {
                double u = rng.NextDouble() * total, acc = 0;
                pick = n - 1;
                for (int i = 0; i < n; i++) { acc += d2[i]; if (acc >= u) { pick = i; break; } }
            }
            cx[c] = x[pick]; cy[c] = y[pick];
            double px = x[pick], py = y[pick];
            for (int i = 0; i < n; i++) d2[i] = Math.Min(d2[i], Sq(x[i] - px) + Sq(y[i] - py));
        }
        return (cx, cy);
    }

    static void Lloyd(double[] x, double[] y, double[] cx, double[] cy, int maxDegreeOfParallelism)
    {
        int n = x.Length, k = cx.Length, lanes = Vector<double>.Count;
        int blocks = (k + lanes - 1) / lanes, kp = blocks * lanes;
        int chunks = (n + ChunkSize - 1) / ChunkSize;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        var partial = new double[chunks][];
        for (int iter = 0; iter < LloydIterations; iter++)
        {
            // Padding centres sit at infinity, so no point ever picks one.
            var px = new double[kp];
            var py = new double[kp];
            Array.Fill(px, double.PositiveInfinity);
            cx.CopyTo(px, 0); cy.CopyTo(py, 0);
            var vx = MemoryMarshal.Cast<double, Vector<double>>(px).ToArray();
            var vy = MemoryMarshal.Cast<double, Vector<double>>(py).ToArray();
            Parallel.For(0, chunks, parallel, b =>
            {
                var sum = partial[b] ??= new double[3 * k];
                Array.Clear(sum);
                int end = Math.Min(n, (b + 1) * ChunkSize);
                for (int i = b * ChunkSize; i < end; i++)
                {
                    int c = Nearest(x[i], y[i], vx, vy, lanes);
                    sum[3 * c] += x[i]; sum[3 * c + 1] += y[i]; sum[3 * c + 2]++;
                }
            });
            var total = new double[3 * k];
            foreach (var sum in partial)
                for (int t = 0; t < total.Length; t++) total[t] += sum[t];
            for (int c = 0; c < k; c++)
                if (total[3 * c + 2] > 0) { cx[c] = total[3 * c] / total[3 * c + 2]; cy[c] = total[3 * c + 1] / total[3 * c + 2]; }
        }
    }

    /// <summary>The nearest centre; on a tie, the lowest index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static int Nearest(double x, double y, Vector<double>[] cx, Vector<double>[] cy, int lanes)
    {
        var xv = new Vector<double>(x);
        var yv = new Vector<double>(y);
        var best = new Vector<double>(double.PositiveInfinity);
        var bestBlock = Vector<long>.Zero;
        for (int j = 0; j < cx.Length; j++)
        {
            var dx = xv - cx[j];
            var dy = yv - cy[j];
            var d = dx * dx + dy * dy;
            var closer = Vector.LessThan(d, best);
            best = Vector.ConditionalSelect(closer, d, best);
            bestBlock = Vector.ConditionalSelect(closer, new Vector<long>(j), bestBlock);
        }
        double bestValue = double.PositiveInfinity;
        int bestIndex = 0;
        for (int t = 0; t < lanes; t++)
        {
            int index = (int)bestBlock[t] * lanes + t;
            if (best[t] < bestValue || (best[t] == bestValue && index < bestIndex)) { bestValue = best[t]; bestIndex = index; }
        }
        return bestIndex;
    }

    static double Sq(double v) => v * v;
}
