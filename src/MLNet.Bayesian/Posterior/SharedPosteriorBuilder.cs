using System.Diagnostics;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// Stage 2 of 2DGBNN: from per-weight points (mu, log sigma) to a shared posterior. Outliers are taken
/// out first; a Gaussian mixture is fitted to the rest (per pool); small components are dropped, close
/// ones merged by W2 distance; every inlier is then assigned, far ones blended between two components.
/// </summary>
internal static class SharedPosteriorBuilder
{
    /// <summary>Builds the plan for the given layers (one pool, or one per layer).</summary>
    public static SharedPosteriorPlan Build(IReadOnlyList<PosteriorLayerPoints> layers, SharedPosteriorOptions? options = null)
        => Build(layers, options, null);

    internal static SharedPosteriorPlan Build(IReadOnlyList<PosteriorLayerPoints> layers, SharedPosteriorOptions? options, BuildPhases? phases)
    {
        options ??= new SharedPosteriorOptions();
        if (layers.Count == 0) throw new ArgumentException("No layers to build a shared posterior from.");
        var clock = Stopwatch.StartNew();
        var slices = new List<LayerSlice>();
        long offset = 0;
        foreach (var layer in layers)
        {
            if (layer.Sigma.Length != layer.Count || (layer.GradientMagnitude != null && layer.GradientMagnitude.Length != layer.Count))
                throw new ArgumentException($"Layer {layer.Name}: mu, sigma and gradient arrays differ in length.");
            slices.Add(new LayerSlice(layer.Name, offset, layer.Count, layer.Shape));
            offset += layer.Count;
        }
        if (offset > int.MaxValue) throw new NotSupportedException($"{offset} weights exceed the 2^31 that one plan indexes.");
        int n = (int)offset;
        var x = new double[n];
        var y = new double[n];
        var grad = new double[n];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.Mixture.MaxDegreeOfParallelism };
        for (int l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            int start = (int)slices[l].Offset;
            const int Chunk = 1 << 16;
            Parallel.For(0, (layer.Count + Chunk - 1) / Chunk, parallel, b =>
            {
                int end = Math.Min(layer.Count, (b + 1) * Chunk);
                for (int i = b * Chunk; i < end; i++)
                {
                    x[start + i] = layer.Mu[i];
                    y[start + i] = Math.Log(layer.Sigma[i]);
                    grad[start + i] = layer.GradientMagnitude?[i] ?? 0;
                }
            });
        }

        var pools = options.PerLayer
            ? slices.Select(s => Enumerable.Range((int)s.Offset, (int)s.Count).ToArray()).ToList()
            : new List<int[]> { Enumerable.Range(0, n).ToArray() };

        phases?.Mark("points");
        var isOutlier = new bool[n];
        var componentOf = new int[n];
        var ellipseFirst = new List<int>(); var ellipseSecond = new List<int>();
        var ellipseA1 = new List<float>(); var ellipseA2 = new List<float>(); var ellipsePos = new List<int>();
        var components = new List<Gaussian2>();
        var counts = new List<int>();
        var componentPools = new List<int>();
        int poolNumber = 0;
        int beforeMerge = 0, dropped = 0;

        foreach (int[] pool in pools)
        {
            int thisPool = poolNumber++;
            MarkOutliers(pool, x, y, grad, options, isOutlier);
            int[] inliers = pool.Where(i => !isOutlier[i]).ToArray();
            phases?.Mark("outliers");
            if (inliers.Length == 0) continue;
            var (mixture, _, poolBefore, poolDropped) = FitPool(inliers, x, y, options, isOutlier, phases);
            beforeMerge += poolBefore;
            dropped += poolDropped;
            inliers = inliers.Where(i => !isOutlier[i]).ToArray();
            int baseIndex = components.Count;
            components.AddRange(mixture.Components);
            counts.AddRange(new int[mixture.Count]);
            componentPools.AddRange(Enumerable.Repeat(thisPool, mixture.Count));
            var (first, far, farAssignments) = mixture.AssignFirstAndFar(inliers.Select(i => x[i]).ToArray(), inliers.Select(i => y[i]).ToArray(),
                options.EllipseThreshold, options.Mixture.MaxDegreeOfParallelism);
            phases?.Mark("final assignment");
            for (int j = 0; j < inliers.Length; j++)
            {
                componentOf[inliers[j]] = baseIndex + first[j];
                counts[baseIndex + first[j]]++;
            }
            for (int f = 0; f < far.Length; f++)
            {
                int i = inliers[far[f]];
                var a = farAssignments[f];
                if (mixture.Count > 1 && a.SecondResponsibility > 0)
                {
                    double total = a.FirstResponsibility + a.SecondResponsibility;
                    ellipsePos.Add(i);
                    ellipseFirst.Add(baseIndex + a.First);
                    ellipseSecond.Add(baseIndex + a.Second);
                    ellipseA1.Add((float)(a.FirstResponsibility / total));
                    ellipseA2.Add((float)(a.SecondResponsibility / total));
                }
            }
        }
        if (components.Count == 0)
            throw new InvalidOperationException("Every weight became an outlier; loosen the outlier thresholds.");
        if (components.Count > ushort.MaxValue + 1)
            throw new NotSupportedException($"{components.Count} components exceed the 65,536 that a 16-bit index can address.");

        Array compact = components.Count <= 256 ? new byte[n] : new ushort[n];
        for (int i = 0; i < n; i++)
        {
            int c = isOutlier[i] ? 0 : componentOf[i];
            if (compact is byte[] b) b[i] = (byte)c; else ((ushort[])compact)[i] = (ushort)c;
        }
        var outlierPos = Enumerable.Range(0, n).Where(i => isOutlier[i]).ToArray();
        var outMu = outlierPos.Select(i => (float)x[i]).ToArray();
        var outSigma = outlierPos.Select(i => (float)Math.Exp(y[i])).ToArray();
        phases?.Mark("plan tables");
        var stats = new SharedPosteriorStatistics(n, components.Count, outlierPos.Length, ellipsePos.Count, beforeMerge, dropped, clock.Elapsed.TotalSeconds);
        return new SharedPosteriorPlan(slices, components.ToArray(), counts.ToArray(), componentPools.ToArray(), compact, outlierPos, outMu, outSigma,
            ellipsePos.ToArray(), ellipseFirst.ToArray(), ellipseSecond.ToArray(), ellipseA1.ToArray(), ellipseA2.ToArray(), stats);
    }

    /// <summary>Marks quantile-box, |mu| and top-gradient outliers of one pool.</summary>
    static void MarkOutliers(int[] pool, double[] x, double[] y, double[] grad, SharedPosteriorOptions options, bool[] isOutlier)
    {
        if (options.OutlierQuantile > 0)
        {
            var (xLow, xHigh) = QuantileBox(pool.Select(i => x[i]).ToArray(), options.OutlierQuantile);
            var (yLow, yHigh) = QuantileBox(pool.Select(i => y[i]).ToArray(), options.OutlierQuantile);
            foreach (int i in pool)
                if (x[i] < xLow || x[i] > xHigh || y[i] < yLow || y[i] > yHigh) isOutlier[i] = true;
        }
        foreach (int i in pool)
            if (Math.Abs(x[i]) >= options.MuThreshold) isOutlier[i] = true;
        if (options.GradientFraction > 0)
        {
            int top = (int)Math.Floor(pool.Length * options.GradientFraction);
            if (top == 0) return;
            // The top-th largest magnitude by selection, not a sort of every weight; ties at it go to the earliest positions.
            double threshold = -OrderStatistics.Select(pool.Select(i => -grad[i]).ToArray(), top - 1);
            int above = pool.Count(i => grad[i] > threshold);
            int tiedLeft = top - above;
            foreach (int i in pool)
            {
                bool take = grad[i] > threshold || (grad[i] == threshold && tiedLeft-- > 0);
                if (take && grad[i] > 0) isOutlier[i] = true;
            }
        }
    }

    static (double Low, double High) QuantileBox(double[] values, double q)
        => (OrderStatistics.Quantile(values, q), OrderStatistics.Quantile(values, 1 - q));

    /// <summary>Fits, drops small components, merges close ones. Returns the mixture weighted by member counts.</summary>
    static (GaussianMixture2D Mixture, int[] Counts, int Before, int Dropped) FitPool(int[] inliers, double[] x, double[] y,
        SharedPosteriorOptions options, bool[] isOutlier, BuildPhases? phases)
    {
        var px = inliers.Select(i => x[i]).ToArray();
        var py = inliers.Select(i => y[i]).ToArray();
        int maxByMembers = Math.Max(1, inliers.Length / (options.MinMembers + 1));
        GaussianMixture2D mixture;
        if (options.BicCandidates is { Length: > 0 } candidates)
        {
            var usable = candidates.Where(k => k >= 1 && k <= maxByMembers).DefaultIfEmpty(1);
            mixture = GaussianMixture2D.FitByBic(px, py, usable, options.Seed, options.Mixture).Best;
        }
        else
        {
            mixture = GaussianMixture2D.Fit(px, py, Math.Clamp(options.ComponentBudget, 1, maxByMembers), options.Seed, options.Mixture, phases);
        }
        phases?.Mark("fit tail, BIC");
        int before = mixture.Count, dropped = 0;

        // Drop components with too few hard-assigned members, then re-assign, until all are big enough.
        int[] labels = FirstChoices(mixture, px, py, options);
        phases?.Mark("drop loop: first choices");
        while (true)
        {
            var counts = new int[mixture.Count];
            foreach (int l in labels) counts[l]++;
            var keep = Enumerable.Range(0, mixture.Count).Where(c => counts[c] > options.MinMembers).ToArray();
            if (keep.Length == mixture.Count || keep.Length == 0) break;
            dropped += mixture.Count - keep.Length;
            if (options.DroppedMembersBecomeOutliers)
            {
                var keepSet = keep.ToHashSet();
                for (int j = 0; j < labels.Length; j++)
                    if (!keepSet.Contains(labels[j])) isOutlier[inliers[j]] = true;
            }
            mixture = GaussianMixture2D.FromComponents(keep.Select(c => mixture.Components[c]).ToArray(), keep.Select(c => (double)counts[c]).ToArray());
            labels = FirstChoices(mixture, px, py, options);
            phases?.Mark("drop loop: first choices");
            for (int j = 0; j < labels.Length; j++) if (isOutlier[inliers[j]]) labels[j] = -1;
            if (options.DroppedMembersBecomeOutliers)
            {
                var rest = labels.Select((l, j) => (l, j)).Where(t => t.l >= 0).ToArray();
                px = rest.Select(t => px[t.j]).ToArray();
                py = rest.Select(t => py[t.j]).ToArray();
                inliers = rest.Select(t => inliers[t.j]).ToArray();
                labels = rest.Select(t => t.l).ToArray();
            }
        }

        phases?.Mark("drop loop: the rest");
        var memberCounts = new int[mixture.Count];
        foreach (int l in labels) memberCounts[l]++;
        var (merged, mergedCounts) = Merge(mixture.Components, memberCounts, options.MergeThreshold);
        phases?.Mark("merge");
        return (GaussianMixture2D.FromComponents(merged, mergedCounts.Select(c => (double)Math.Max(c, 1)).ToArray()), mergedCounts, before, dropped);
    }

    static int[] FirstChoices(GaussianMixture2D mixture, double[] px, double[] py, SharedPosteriorOptions options)
        => mixture.FirstChoices(px, py, options.Mixture.MaxDegreeOfParallelism);

    /// <summary>
    /// Merges the closest pair (by squared W2) while it is under the threshold, moment matching weighted by
    /// member counts. Returns the surviving components and their member counts.
    /// </summary>
    public static (Gaussian2[] Components, int[] Counts) Merge(Gaussian2[] components, int[] counts, double threshold)
    {
        var (merged, mergedCounts, _) = MergeWithMap(components, counts, threshold, null);
        return (merged, mergedCounts);
    }

    /// <summary>
    /// As <see cref="Merge"/>, and also returns, for every input component, the index of the component it
    /// ended in. Components of different pools (<paramref name="pools"/>, null: one pool) are never merged.
    /// </summary>
    public static (Gaussian2[] Components, int[] Counts, int[] Map) MergeWithMap(Gaussian2[] components, int[] counts, double threshold, int[]? pools)
    {
        int k = components.Length;
        var comps = (Gaussian2[])components.Clone();
        var sizes = (int[])counts.Clone();
        var owner = Enumerable.Range(0, k).ToArray();
        var alive = Enumerable.Repeat(true, k).ToArray();
        var poolOf = pools ?? new int[k];
        // Only pairs already under the threshold can be merged; after a merge only the merged component's pairs
        // change. Keeping those pairs (by original index, lower first, as the full scan would visit them) makes a
        // merge cost one row of distances instead of all K^2 / 2; the chosen pair is the full scan's: the smallest
        // distance, the first in scan order on a tie.
        var close = new List<(double D, int I, int J)>();
        if (threshold > 0)
            for (int i = 0; i < k; i++)
                for (int j = i + 1; j < k; j++)
                {
                    if (poolOf[i] != poolOf[j]) continue;
                    double d = Gaussian2.W2Squared(comps[i], comps[j]);
                    if (d < threshold) close.Add((d, i, j));
                }
        while (close.Count > 0)
        {
            int best = 0;
            for (int t = 1; t < close.Count; t++)
            {
                var (d, i, j) = close[t];
                var (bd, pi, pj) = close[best];
                if (d < bd || (d == bd && (i < pi || (i == pi && j < pj)))) best = t;
            }
            var (_, bi, bj) = close[best];
            double wi = Math.Max(sizes[bi], 1), wj = Math.Max(sizes[bj], 1);
            comps[bi] = Gaussian2.MomentMatch(new[] { comps[bi], comps[bj] }, new[] { wi, wj });
            sizes[bi] += sizes[bj];
            alive[bj] = false;
            for (int c = 0; c < k; c++) if (owner[c] == bj) owner[c] = bi;
            close.RemoveAll(pair => pair.I == bi || pair.J == bi || pair.I == bj || pair.J == bj);
            for (int c = 0; c < k; c++)
            {
                if (!alive[c] || c == bi || poolOf[c] != poolOf[bi]) continue;
                int lo = Math.Min(bi, c), hi = Math.Max(bi, c);
                double d = Gaussian2.W2Squared(comps[lo], comps[hi]);
                if (d < threshold) close.Add((d, lo, hi));
            }
        }
        var position = new int[k];
        var survivors = new List<int>();
        for (int c = 0; c < k; c++)
            if (alive[c]) { position[c] = survivors.Count; survivors.Add(c); }
        var map = owner.Select(o => position[o]).ToArray();
        return (survivors.Select(c => comps[c]).ToArray(), survivors.Select(c => sizes[c]).ToArray(), map);
    }
}
