namespace MLNet.Bayesian.Posterior;

/// <summary>
/// The k-th smallest of many values in linear time (quickselect), for the outlier thresholds: sorting all the
/// weights of a large network only to read two quantiles and one rank was most of the outlier step's time.
/// </summary>
internal static class OrderStatistics
{
    /// <summary>Rearranges <paramref name="values"/> so that values[k] is the k-th smallest (0-based), smaller ones before it, larger after.</summary>
    public static double Select(double[] values, int k)
    {
        if ((uint)k >= (uint)values.Length) throw new ArgumentOutOfRangeException(nameof(k));
        int lo = 0, hi = values.Length - 1;
        while (hi > lo)
        {
            // Median of three as the pivot, then a three-way partition: runs of equal values (quantised log sigma) end quickly.
            int mid = lo + (hi - lo) / 2;
            double a = values[lo], b = values[mid], c = values[hi];
            double pivot = a < b ? (b < c ? b : Math.Max(a, c)) : (a < c ? a : Math.Max(b, c));
            int lt = lo, gt = hi, i = lo;
            while (i <= gt)
            {
                double v = values[i];
                if (v < pivot) { values[i++] = values[lt]; values[lt++] = v; }
                else if (v > pivot) { values[i] = values[gt]; values[gt--] = v; }
                else i++;
            }
            if (k < lt) hi = lt - 1;
            else if (k > gt) lo = gt + 1;
            else return values[k];
        }
        return values[k];
    }

    /// <summary>The q-quantile with linear interpolation between order statistics, as on a sorted copy.</summary>
    public static double Quantile(double[] values, double q)
    {
        double pos = q * (values.Length - 1);
        int lo = (int)Math.Floor(pos);
        double low = Select(values, lo);
        if (lo + 1 >= values.Length) return low;
        // After selection everything right of lo is at least values[lo]; the next order statistic is their minimum.
        double high = double.PositiveInfinity;
        for (int i = lo + 1; i < values.Length; i++) high = Math.Min(high, values[i]);
        return low + (high - low) * (pos - lo);
    }
}
