namespace MLNet.Bayesian.Conformal;

/// <summary>
/// The LAC / APS / RAPS conformity score of one class of one row, the set rule, and the split-conformal quantile index.
/// Classes are ranked by probability, highest first, ties by class index, so the ranking is the same wherever the
/// same probabilities are scored. The score of a class of rank o (1-based) with probability p is 1 - p for LAC, and
/// <c>sum of the o-1 higher probabilities + u * p + Lambda * max(0, o - KReg)</c> for APS and RAPS (Lambda = 0 for
/// APS), with u = 1 when not randomised. Either grows with the rank, so a prediction set is always the top classes up
/// to some rank.
/// </summary>
internal static class ConformalScore
{
    /// <summary>
    /// The position (1-based) in the sorted calibration scores of the threshold: ceil((n + 1) * coverage). It may be
    /// n + 1 when n is too small for the coverage; ConformalCalibration.Fit refuses that case.
    /// </summary>
    public static long QuantileIndex(long n, double coverage)
    {
        // Rounded to 9 decimals first: (n + 1) * 0.9 in binary can be 900.0000000000001, which must not become 901.
        double product = Math.Round((n + 1) * coverage, 9);
        return (long)Math.Ceiling(product);
    }

    /// <summary>Class indices ordered by probability, highest first, ties by index.</summary>
    public static void Rank(ReadOnlySpan<float> probabilities, Span<int> order)
    {
        for (int c = 0; c < order.Length; c++) order[c] = c;
        // Insertion sort: K is small (tens of classes) and the order must be stable.
        for (int i = 1; i < order.Length; i++)
        {
            int c = order[i], j = i - 1;
            while (j >= 0 && probabilities[order[j]] < probabilities[c]) { order[j + 1] = order[j]; j--; }
            order[j + 1] = c;
        }
    }

    /// <summary>The conformity score of class <paramref name="label"/>.</summary>
    public static double Score(ReadOnlySpan<float> probabilities, int label, ConformalMethod method, double lambda, int kReg, double u)
    {
        Span<int> order = stackalloc int[probabilities.Length];
        Rank(probabilities, order);
        double above = 0;
        for (int rank = 1; rank <= order.Length; rank++)
        {
            int c = order[rank - 1];
            if (c == label) return ClassScore(method, probabilities[c], above, u, lambda, kReg, rank);
            above += probabilities[c];
        }
        throw new ArgumentOutOfRangeException(nameof(label), label, $"The label is {label}; the rows have {probabilities.Length} classes.");
    }

    /// <summary>
    /// Marks the prediction set in <paramref name="inSet"/> and returns its size. LAC: the classes whose score is at
    /// most <paramref name="threshold"/> (p &gt;= 1 - threshold); empty when no class is that probable. APS and RAPS
    /// randomised (u &lt; 1 possible): the classes whose score is at most the threshold, as in Romano et al.; the set is
    /// empty when u * p of the top class exceeds the threshold. APS and RAPS deterministic (u = 1): the top classes up
    /// to and including the first whose score exceeds the threshold (their "non-randomised" sets), so a set is never
    /// empty; it is a superset of the classes scoring at most the threshold, so the coverage guarantee holds with room
    /// to spare. A set holds every class when the threshold is above every score.
    /// </summary>
    public static int Set(ReadOnlySpan<float> probabilities, double threshold, ConformalMethod method, double lambda, int kReg, double u, bool randomized, Span<bool> inSet)
    {
        Span<int> order = stackalloc int[probabilities.Length];
        Rank(probabilities, order);
        inSet.Clear();
        double above = 0;
        int size = 0;
        for (int rank = 1; rank <= order.Length; rank++)
        {
            int c = order[rank - 1];
            double score = ClassScore(method, probabilities[c], above, u, lambda, kReg, rank);
            if (score > threshold && (randomized || method == ConformalMethod.Lac)) break;
            inSet[c] = true;
            size++;
            if (score > threshold) break;
            above += probabilities[c];
        }
        return size;
    }

    /// <summary>The score of a class of rank <paramref name="rank"/> with probability <paramref name="p"/>, <paramref name="above"/> the mass ranked above it.</summary>
    static double ClassScore(ConformalMethod method, float p, double above, double u, double lambda, int kReg, int rank)
        => method == ConformalMethod.Lac ? 1.0 - p : above + u * p + Penalty(method, lambda, kReg, rank);

    static double Penalty(ConformalMethod method, double lambda, int kReg, int rank)
        => method == ConformalMethod.Raps && rank > kReg ? lambda * (rank - kReg) : 0;
}
