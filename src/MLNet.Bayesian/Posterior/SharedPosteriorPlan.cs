namespace MLNet.Bayesian.Posterior;

/// <summary>One layer's slice of the flat weight vector.</summary>
internal sealed record LayerSlice(string Name, long Offset, long Count, long[] Shape);

/// <summary>Counts that describe a built shared posterior.</summary>
public sealed record SharedPosteriorStatistics(
    long Weights, int Components, int Outliers, int EllipseWeights, int ComponentsBeforeMerge, int DroppedComponents, double BuildSeconds);

/// <summary>
/// The result of stage 2: component tables and, for every weight, where its value comes from.
/// Weight p (flat position over all shared layers) is an outlier when OutlierSlot[p] &gt;= 0, a blend
/// when EllipseSlot[p] &gt;= 0, and otherwise takes its component's draw. Per-weight tables are compact
/// typed arrays; the component index is 8-bit when there are at most 256 components, else 16-bit.
/// </summary>
internal sealed class SharedPosteriorPlan
{
    internal SharedPosteriorPlan(IReadOnlyList<LayerSlice> layers, Gaussian2[] components, int[] memberCounts, int[] componentPools,
        Array componentIndex, int[] outlierPositions, float[] outlierMu, float[] outlierSigma,
        int[] ellipsePositions, int[] ellipseFirst, int[] ellipseSecond, float[] ellipseAlphaFirst, float[] ellipseAlphaSecond,
        SharedPosteriorStatistics statistics)
    {
        Layers = layers; Components = components; MemberCounts = memberCounts; ComponentPools = componentPools; CompactComponentIndex = componentIndex;
        OutlierPositions = outlierPositions; OutlierMu = outlierMu; OutlierSigma = outlierSigma;
        EllipsePositions = ellipsePositions; EllipseFirst = ellipseFirst; EllipseSecond = ellipseSecond;
        EllipseAlphaFirst = ellipseAlphaFirst; EllipseAlphaSecond = ellipseAlphaSecond; Statistics = statistics;
    }

    /// <summary>Layers in flat order.</summary>
    public IReadOnlyList<LayerSlice> Layers { get; }
    /// <summary>The fitted components (after dropping and merging): the empirical-Bayes prior and the start of stage 3.</summary>
    public Gaussian2[] Components { get; }
    /// <summary>Inlier members per component.</summary>
    public int[] MemberCounts { get; }
    /// <summary>The pool (0 for the whole network, else the layer) each component was fitted in; merging stays within a pool.</summary>
    public int[] ComponentPools { get; }
    /// <summary>Per weight: its component (byte[] when at most 256 components, else ushort[]); meaningless for outliers.</summary>
    public Array CompactComponentIndex { get; }
    /// <summary>Flat positions of outlier weights.</summary>
    public int[] OutlierPositions { get; }
    /// <summary>Stage-1 mean of each outlier.</summary>
    public float[] OutlierMu { get; }
    /// <summary>Stage-1 sigma of each outlier.</summary>
    public float[] OutlierSigma { get; }
    /// <summary>Flat positions of ellipse (blended) weights.</summary>
    public int[] EllipsePositions { get; }
    /// <summary>Most responsible component of each ellipse weight.</summary>
    public int[] EllipseFirst { get; }
    /// <summary>Second most responsible component of each ellipse weight.</summary>
    public int[] EllipseSecond { get; }
    /// <summary>Blend weight of the first component (alpha1 + alpha2 = 1).</summary>
    public float[] EllipseAlphaFirst { get; }
    /// <summary>Blend weight of the second component.</summary>
    public float[] EllipseAlphaSecond { get; }
    /// <summary>Counts and timing.</summary>
    public SharedPosteriorStatistics Statistics { get; }

    /// <summary>Total weights covered.</summary>
    public long WeightCount => Layers.Sum(l => l.Count);

    /// <summary>Component of weight <paramref name="position"/>.</summary>
    public int ComponentOf(long position) => CompactComponentIndex switch
    {
        byte[] b => b[position],
        ushort[] u => u[position],
        _ => throw new InvalidOperationException("Unknown index type."),
    };

    /// <summary>
    /// The plan after merging components: <paramref name="map"/> sends each old component to its new index,
    /// <paramref name="merged"/> holds the new components. A blend whose two components merged becomes a
    /// plain member of the merged component.
    /// </summary>
    public SharedPosteriorPlan WithMergedComponents(int[] map, Gaussian2[] merged)
    {
        if (map.Length != Components.Length) throw new ArgumentException("The map needs one entry per component.");
        int n = (int)WeightCount;
        Array compact = merged.Length <= 256 ? new byte[n] : new ushort[n];
        var counts = new int[merged.Length];
        var isOutlier = new bool[n];
        foreach (int p in OutlierPositions) isOutlier[p] = true;
        for (int p = 0; p < n; p++)
        {
            int c = isOutlier[p] ? 0 : map[ComponentOf(p)];
            if (!isOutlier[p]) counts[c]++;
            if (compact is byte[] b) b[p] = (byte)c; else ((ushort[])compact)[p] = (ushort)c;
        }
        var keep = Enumerable.Range(0, EllipsePositions.Length).Where(e => map[EllipseFirst[e]] != map[EllipseSecond[e]]).ToArray();
        var pools = new int[merged.Length];
        for (int c = 0; c < map.Length; c++) pools[map[c]] = ComponentPools[c];
        var stats = Statistics with { Components = merged.Length, EllipseWeights = keep.Length };
        return new SharedPosteriorPlan(Layers, merged, counts, pools, compact, OutlierPositions, OutlierMu, OutlierSigma,
            keep.Select(e => EllipsePositions[e]).ToArray(), keep.Select(e => map[EllipseFirst[e]]).ToArray(),
            keep.Select(e => map[EllipseSecond[e]]).ToArray(), keep.Select(e => EllipseAlphaFirst[e]).ToArray(),
            keep.Select(e => EllipseAlphaSecond[e]).ToArray(), stats);
    }

    /// <summary>
    /// The gather index of every weight into the value table [components | outliers | ellipse weights]
    /// that <see cref="SharedPosterior"/> builds at each draw.
    /// </summary>
    public long[] GatherIndex()
    {
        var index = new long[WeightCount];
        for (long p = 0; p < index.Length; p++) index[p] = ComponentOf(p);
        int k = Components.Length;
        for (int o = 0; o < OutlierPositions.Length; o++) index[OutlierPositions[o]] = k + o;
        for (int e = 0; e < EllipsePositions.Length; e++) index[EllipsePositions[e]] = k + OutlierPositions.Length + e;
        return index;
    }
}
