using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// EM iterations for a 2-D Gaussian mixture on standardised points, one fused pass per iteration: a point's
/// responsibilities over all components are computed with float vectors across components and folded straight
/// into sufficient statistics, so the n x K responsibility matrix never exists. Statistics are taken around the
/// previous means (no cancellation when the covariance is formed) and added into double every few points.
/// Components are laid out in spatial order (strips by x, then y), so that many vector blocks of components are far
/// from a given point: a block whose every responsibility is below the cutoff would add exact zeros and is skipped.
/// Points are cut into fixed chunks whose sums are added in chunk order: the fit is the same bit for bit
/// whatever the number of cores.
/// </summary>
internal sealed class MixtureEm
{
    internal const int ChunkSize = 512;
    // Float partial sums over this many points stay accurate to about 1e-6; then they go into double.
    const int FlushEvery = 64;
    const int Stats = 6, Constants = 6;
    // A padding component: far below any real log density, so its responsibility is exactly 0.
    const float Absent = -1e30f;
    // Responsibilities below e^-30 (1e-13) of a point's largest count as 0: even over millions of points they add up
    // to less than 1e-6 of one point's weight, below what the float sums resolve for any component that has members;
    // a component living on such terms alone ends with no members and is dropped after the fit either way. The
    // cutoff is also what lets whole blocks of far components be skipped.
    const float Cutoff = -30f;

    readonly float[] _x, _y;
    readonly int _k, _blocks, _chunks;
    // Per block of components, six vectors side by side: mean x, mean y, the three quadratic-form coefficients, log constant.
    readonly Vector<float>[] _constants;
    readonly Vector<double>[][] _chunkSums;
    readonly double[] _chunkLogLikelihood;
    readonly ParallelOptions _parallel;

    public MixtureEm(double[] x, double[] y, int k, int maxDegreeOfParallelism)
    {
        _x = x.Select(v => (float)v).ToArray();
        _y = y.Select(v => (float)v).ToArray();
        _k = k;
        _blocks = (k + Vector<float>.Count - 1) / Vector<float>.Count;
        _constants = new Vector<float>[Constants * _blocks];
        _chunks = (_x.Length + ChunkSize - 1) / ChunkSize;
        _chunkSums = Enumerable.Range(0, _chunks).Select(_ => new Vector<double>[2 * Stats * _blocks]).ToArray();
        _chunkLogLikelihood = new double[_chunks];
        _parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
    }

    /// <summary>One E-step and M-step: updates the components and weights in place; returns the log-likelihood before the update.</summary>
    public double Iterate(Gaussian2[] comps, double[] weights, double floor) => Iterate(comps, weights, floor, floor);

    /// <summary>As <see cref="Iterate(Gaussian2[], double[], double)"/> with a floor of its own for each coordinate's variance.</summary>
    public double Iterate(Gaussian2[] comps, double[] weights, double floorX, double floorY)
    {
        var (order, mx, my) = LoadConstants(comps, weights);
        Parallel.For(0, _chunks, _parallel, Chunk);
        int kp = _blocks * Vector<float>.Count, lanes = Vector<float>.Count;
        var sums = new double[Stats * kp];
        double ll = 0;
        for (int b = 0; b < _chunks; b++)
        {
            var chunk = MemoryMarshal.Cast<Vector<double>, double>(_chunkSums[b]);
            for (int t = 0; t < sums.Length; t++) sums[t] += chunk[t];
            ll += _chunkLogLikelihood[b];
        }
        int n = _x.Length;
        for (int p = 0; p < _k; p++)
        {
            int c = order[p];
            // The statistics of slot p: block p / lanes, lane p % lanes, six stats per block side by side.
            int at = Stats * (p / lanes) * lanes + p % lanes;
            double nk = sums[at];
            if (nk < 1e-10)
            {
                // An empty component keeps its place with a tiny weight instead of producing NaNs.
                weights[c] = 1e-10;
                continue;
            }
            double ux = sums[at + lanes] / nk, uy = sums[at + 2 * lanes] / nk;
            double cxx = Math.Max(sums[at + 3 * lanes] / nk - ux * ux, 0);
            double cxy = sums[at + 4 * lanes] / nk - ux * uy;
            double cyy = Math.Max(sums[at + 5 * lanes] / nk - uy * uy, 0);
            comps[c] = new Gaussian2(mx[p] + ux, my[p] + uy, cxx + floorX, cxy, cyy + floorY);
            weights[c] = nk / n;
        }
        double total = weights.Sum();
        for (int c = 0; c < _k; c++) weights[c] /= total;
        return ll;
    }

    /// <summary>
    /// The log density's constants as float vectors, slot p holding component order[p]; returns the order and the
    /// float means (per slot) that the statistics are taken around.
    /// </summary>
    (int[] Order, float[] Mx, float[] My) LoadConstants(Gaussian2[] comps, double[] weights)
    {
        int kp = _blocks * Vector<float>.Count;
        var order = SpatialOrder(comps);
        float[] mx = new float[kp], my = new float[kp], qa = new float[kp], qb = new float[kp], qc = new float[kp], lc = new float[kp];
        Array.Fill(lc, Absent);
        for (int p = 0; p < _k; p++)
        {
            int c = order[p];
            var g = comps[c];
            double det = g.Det;
            mx[p] = (float)g.Mx; my[p] = (float)g.My;
            qa[p] = (float)(-0.5 * g.Syy / det); qb[p] = (float)(g.Sxy / det); qc[p] = (float)(-0.5 * g.Sxx / det);
            lc[p] = (float)(Math.Log(Math.Max(weights[c], 1e-300)) - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det));
        }
        float[][] parts = { mx, my, qa, qb, qc, lc };
        for (int j = 0; j < _blocks; j++)
            for (int t = 0; t < Constants; t++)
                _constants[Constants * j + t] = new Vector<float>(parts[t], j * Vector<float>.Count);
        return (order, mx, my);
    }

    /// <summary>Components in about sqrt(blocks) strips of whole blocks by x, each strip by y: neighbours share blocks.</summary>
    int[] SpatialOrder(Gaussian2[] comps)
    {
        int lanes = Vector<float>.Count;
        var byX = Enumerable.Range(0, _k).OrderBy(c => comps[c].Mx).ThenBy(c => c).ToArray();
        int strips = Math.Max(1, (int)Math.Round(Math.Sqrt(_blocks)));
        int perStrip = (_blocks + strips - 1) / strips * lanes;
        var order = new List<int>(_k);
        for (int s = 0; s * perStrip < _k; s++)
            order.AddRange(byX.Skip(s * perStrip).Take(perStrip).OrderBy(c => comps[c].My).ThenBy(c => c));
        return order.ToArray();
    }

    // Optimised from the first call: stage 2 runs once per training, too briefly for tiered compilation to catch up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void Chunk(int b)
    {
        int blocks = _blocks, lanes = Vector<float>.Count;
        var logs = new Vector<float>[blocks];
        var live = new bool[blocks];
        var acc = new Vector<float>[Stats * blocks];
        var sums = _chunkSums[b];
        Array.Clear(sums);
        // Bounds-check-free walks over the blocks: the arrays are sized from blocks above.
        ref var k0 = ref MemoryMarshal.GetArrayDataReference(_constants);
        ref var l0 = ref MemoryMarshal.GetArrayDataReference(logs);
        ref var a0 = ref MemoryMarshal.GetArrayDataReference(acc);
        var cutoff = new Vector<float>(Cutoff);
        double ll = 0;
        int start = b * ChunkSize, end = Math.Min(_x.Length, start + ChunkSize);
        for (int i = start; i < end; i++)
        {
            var xv = new Vector<float>(_x[i]);
            var yv = new Vector<float>(_y[i]);
            var maxv = new Vector<float>(float.NegativeInfinity);
            for (int j = 0; j < blocks; j++)
            {
                ref var k = ref Unsafe.Add(ref k0, Constants * j);
                var dx = xv - k;
                var dy = yv - Unsafe.Add(ref k, 1);
                var v = Unsafe.Add(ref k, 5) + dx * (Unsafe.Add(ref k, 2) * dx + Unsafe.Add(ref k, 3) * dy) + Unsafe.Add(ref k, 4) * dy * dy;
                Unsafe.Add(ref l0, j) = v;
                maxv = Vector.Max(maxv, v);
            }
            float max = maxv[0];
            for (int t = 1; t < lanes; t++) max = Math.Max(max, maxv[t]);
            var m = new Vector<float>(max);
            var sumv = Vector<float>.Zero;
            for (int j = 0; j < blocks; j++)
            {
                ref var l = ref Unsafe.Add(ref l0, j);
                var d = l - m;
                live[j] = !Vector.LessThanAll(d, cutoff);
                if (!live[j]) continue;
                var e = Vector.ConditionalSelect(Vector.LessThan(d, cutoff), Vector<float>.Zero, ExpNonPositive(Vector.Max(d, cutoff)));
                l = e;
                sumv += e;
            }
            float sum = Vector.Sum(sumv);
            ll += max + Math.Log(sum);
            var inv = new Vector<float>(1f / sum);
            for (int j = 0; j < blocks; j++)
            {
                if (!live[j]) continue;
                ref var k = ref Unsafe.Add(ref k0, Constants * j);
                ref var a = ref Unsafe.Add(ref a0, Stats * j);
                var r = Unsafe.Add(ref l0, j) * inv;
                var dx = xv - k;
                var dy = yv - Unsafe.Add(ref k, 1);
                var rdx = r * dx;
                var rdy = r * dy;
                a += r;
                Unsafe.Add(ref a, 1) += rdx;
                Unsafe.Add(ref a, 2) += rdy;
                Unsafe.Add(ref a, 3) += rdx * dx;
                Unsafe.Add(ref a, 4) += rdx * dy;
                Unsafe.Add(ref a, 5) += rdy * dy;
            }
            if ((i - start + 1) % FlushEvery == 0 || i == end - 1)
            {
                for (int t = 0; t < acc.Length; t++)
                {
                    Vector.Widen(acc[t], out var low, out var high);
                    sums[2 * t] += low;
                    sums[2 * t + 1] += high;
                    acc[t] = Vector<float>.Zero;
                }
            }
        }
        _chunkLogLikelihood[b] = ll;
    }

    /// <summary>
    /// e^d for d in [-87, 0], to about 1e-7 relative: Cody-Waite reduction d = n ln2 + r with |r| &lt;= ln2 / 2, a
    /// degree-7 Taylor polynomial for e^r, and 2^n built in the exponent bits. Several times faster than Vector.Exp,
    /// whose full-range version dominates the E-step, and the same on every machine (plain arithmetic, no FMA).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<float> ExpNonPositive(Vector<float> d)
    {
        const float Log2E = 1.44269504f, Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860677e-6f, RoundMagic = 12582912f;
        var magic = new Vector<float>(RoundMagic);
        var n = d * new Vector<float>(Log2E) + magic - magic;
        var r = d - n * new Vector<float>(Ln2Hi) - n * new Vector<float>(Ln2Lo);
        var p = new Vector<float>(1f / 5040);
        p = p * r + new Vector<float>(1f / 720);
        p = p * r + new Vector<float>(1f / 120);
        p = p * r + new Vector<float>(1f / 24);
        p = p * r + new Vector<float>(1f / 6);
        p = p * r + new Vector<float>(0.5f);
        p = p * r + Vector<float>.One;
        p = p * r + Vector<float>.One;
        var scale = Vector.AsVectorSingle(Vector.ShiftLeft(Vector.ConvertToInt32(n) + new Vector<int>(127), 23));
        return p * scale;
    }
}
