using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

[TestClass]
public sealed class MergeTests
{
    /// <summary>The definition: scan every pair, merge the closest (first in scan order on a tie) while it is under the threshold.</summary>
    static (Gaussian2[] Components, int[] Counts, int[] Map) FullScanMerge(Gaussian2[] components, int[] counts, double threshold, int[] pools)
    {
        var comps = components.ToList();
        var sizes = counts.ToList();
        var groups = Enumerable.Range(0, components.Length).Select(i => new List<int> { i }).ToList();
        var poolOf = pools.ToList();
        while (comps.Count > 1)
        {
            int bi = -1, bj = -1;
            double best = threshold;
            for (int i = 0; i < comps.Count; i++)
                for (int j = i + 1; j < comps.Count; j++)
                {
                    if (poolOf[i] != poolOf[j]) continue;
                    double d = Gaussian2.W2Squared(comps[i], comps[j]);
                    if (d < best) { best = d; bi = i; bj = j; }
                }
            if (bi < 0) break;
            comps[bi] = Gaussian2.MomentMatch(new[] { comps[bi], comps[bj] }, new double[] { Math.Max(sizes[bi], 1), Math.Max(sizes[bj], 1) });
            sizes[bi] += sizes[bj];
            groups[bi].AddRange(groups[bj]);
            comps.RemoveAt(bj); sizes.RemoveAt(bj); groups.RemoveAt(bj); poolOf.RemoveAt(bj);
        }
        var map = new int[components.Length];
        for (int g = 0; g < groups.Count; g++)
            foreach (int i in groups[g]) map[i] = g;
        return (comps.ToArray(), sizes.ToArray(), map);
    }

    [TestMethod]
    public void IncrementalMergeGivesTheFullScansResult()
    {
        var rng = new Random(8);
        // Components on a coarse lattice: many exact distance ties, chains of merges, two pools.
        var comps = Enumerable.Range(0, 120).Select(_ =>
        {
            double v = 0.5 + rng.Next(3) * 0.25;
            return new Gaussian2(rng.Next(8) * 0.5, rng.Next(8) * 0.5, v, 0, v);
        }).ToArray();
        var counts = comps.Select(_ => rng.Next(0, 50)).ToArray();
        var pools = comps.Select(_ => rng.Next(2)).ToArray();
        foreach (double threshold in new[] { 0.0, 0.3, 1.1, 4.0 })
        {
            var expected = FullScanMerge(comps, counts, threshold, pools);
            var actual = SharedPosteriorBuilder.MergeWithMap(comps, counts, threshold, pools);
            Assert.IsTrue(threshold < 1 || actual.Components.Length < 100, $"threshold {threshold}: only {120 - actual.Components.Length} merges");
            CollectionAssert.AreEqual(expected.Components, actual.Components, $"threshold {threshold}");
            CollectionAssert.AreEqual(expected.Counts, actual.Counts, $"threshold {threshold}");
            CollectionAssert.AreEqual(expected.Map, actual.Map, $"threshold {threshold}");
        }
    }
}
