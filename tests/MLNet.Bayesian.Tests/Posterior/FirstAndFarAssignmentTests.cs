using MLNet.Bayesian.Posterior;

namespace MLNet.Bayesian.Tests.Posterior;

/// <summary>The builder's cheap assignment (first choice for all, full assignment for far points) agrees exactly with AssignAll.</summary>
[TestClass]
public sealed class FirstAndFarAssignmentTests
{
    [TestMethod]
    [DataRow(GaussianMixture2D.ExactAssignmentBudget)]
    [DataRow(0L)]
    public void AgreesWithAssignAll(long exactBudget)
    {
        var (x, y, _) = GaussianMixture2DTests.Sample(3000, 17);
        var gmm = GaussianMixture2D.Fit(x, y, 30, seed: 4);
        const double threshold = 5.991;
        var all = gmm.AssignAll(x, y, exactBudget);
        var (first, far, farAssignments) = gmm.AssignFirstAndFar(x, y, threshold, maxDegreeOfParallelism: -1, exactBudget);
        CollectionAssert.AreEqual(all.Select(a => a.First).ToArray(), first);
        CollectionAssert.AreEqual(Enumerable.Range(0, x.Length).Where(i => all[i].Mahalanobis2ToFirst > threshold).ToArray(), far);
        Assert.IsTrue(far.Length > 10, $"only {far.Length} far points");
        CollectionAssert.AreEqual(far.Select(i => all[i]).ToArray(), farAssignments);
    }
}
