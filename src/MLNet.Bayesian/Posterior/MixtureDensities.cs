using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// A mixture's weighted log densities, log(w_c) + log N(p; m_c, S_c), for one point against every component at
/// once: the component constants are laid out as double vectors (structure of arrays), padded with components
/// of log density minus infinity. Double, not float: these numbers are the plan's responsibilities and the BIC.
/// </summary>
internal sealed class MixtureDensities
{
    readonly Vector<double>[] _mx, _my, _qa, _qb, _qc, _lc;

    public MixtureDensities(Gaussian2[] components, double[] weights)
    {
        Count = components.Length;
        int lanes = Vector<double>.Count;
        int kp = (Count + lanes - 1) / lanes * lanes;
        Padded = kp;
        double[] mx = new double[kp], my = new double[kp], qa = new double[kp], qb = new double[kp], qc = new double[kp], lc = new double[kp];
        Array.Fill(lc, double.NegativeInfinity);
        for (int c = 0; c < Count; c++)
        {
            var g = components[c];
            double det = g.Det;
            mx[c] = g.Mx; my[c] = g.My;
            qa[c] = -0.5 * g.Syy / det; qb[c] = g.Sxy / det; qc[c] = -0.5 * g.Sxx / det;
            lc[c] = Math.Log(Math.Max(weights[c], 1e-300)) - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det);
        }
        _mx = ToVectors(mx); _my = ToVectors(my); _qa = ToVectors(qa); _qb = ToVectors(qb); _qc = ToVectors(qc); _lc = ToVectors(lc);
    }

    /// <summary>Number of components.</summary>
    public int Count { get; }
    /// <summary>Length of the span <see cref="LogDensities"/> fills: the count rounded up to whole vectors.</summary>
    public int Padded { get; }

    static Vector<double>[] ToVectors(double[] values) => MemoryMarshal.Cast<double, Vector<double>>(values).ToArray();

    /// <summary>Fills <paramref name="logs"/> (length <see cref="Padded"/>) with the weighted log densities at (x, y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void LogDensities(double x, double y, Span<double> logs)
    {
        var l = MemoryMarshal.Cast<double, Vector<double>>(logs);
        var xv = new Vector<double>(x);
        var yv = new Vector<double>(y);
        for (int j = 0; j < _mx.Length; j++)
        {
            var dx = xv - _mx[j];
            var dy = yv - _my[j];
            l[j] = _lc[j] + dx * (_qa[j] * dx + _qb[j] * dy) + _qc[j] * dy * dy;
        }
    }

    // Terms below e^-700 of the largest are 0 (as double underflow made them anyway); clamping keeps Vector.Exp
    // off its slow path for lanes beyond its range.
    const double Cutoff = -700;

    /// <summary>The component of largest weighted density at (x, y); on a tie, the lowest index. No scratch, no exponentials.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int ArgMax(double x, double y)
    {
        var xv = new Vector<double>(x);
        var yv = new Vector<double>(y);
        var best = new Vector<double>(double.NegativeInfinity);
        var bestBlock = Vector<long>.Zero;
        for (int j = 0; j < _mx.Length; j++)
        {
            var dx = xv - _mx[j];
            var dy = yv - _my[j];
            var l = _lc[j] + dx * (_qa[j] * dx + _qb[j] * dy) + _qc[j] * dy * dy;
            var higher = Vector.GreaterThan(l, best);
            best = Vector.ConditionalSelect(higher, l, best);
            bestBlock = Vector.ConditionalSelect(higher, new Vector<long>(j), bestBlock);
        }
        int lanes = Vector<double>.Count, bestIndex = 0;
        double bestValue = double.NegativeInfinity;
        for (int t = 0; t < lanes; t++)
        {
            int index = (int)bestBlock[t] * lanes + t;
            if (index >= Count) continue;
            if (best[t] > bestValue || (best[t] == bestValue && index < bestIndex)) { bestValue = best[t]; bestIndex = index; }
        }
        return bestIndex;
    }

    /// <summary>log sum_c exp(logs[c]), taking the maximum out first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double LogSumExp(ReadOnlySpan<double> logs, double max)
    {
        var l = MemoryMarshal.Cast<double, Vector<double>>(logs);
        var m = new Vector<double>(max);
        var cutoff = new Vector<double>(Cutoff);
        var sum = Vector<double>.Zero;
        for (int j = 0; j < l.Length; j++)
        {
            var d = l[j] - m;
            sum += Vector.ConditionalSelect(Vector.LessThan(d, cutoff), Vector<double>.Zero, Vector.Exp(Vector.Max(d, cutoff)));
        }
        double total = Vector.Sum(sum);
        for (int c = l.Length * Vector<double>.Count; c < logs.Length; c++) total += Math.Exp(logs[c] - max);
        return max + Math.Log(total);
    }

    /// <summary>The index of the largest value; on a tie, the lowest index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int ArgMax(ReadOnlySpan<double> logs, int count)
    {
        int best = 0;
        for (int c = 1; c < count; c++) if (logs[c] > logs[best]) best = c;
        return best;
    }
}
