using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.Tests.Training;

/// <summary>The one factory of methods finds a class for every option value, and only one.</summary>
[TestClass]
public sealed class TrainingMethodTests
{
    [TestMethod]
    public void EveryMethodOptionHasItsOwnClass()
    {
        var classes = new HashSet<Type>();
        foreach (var method in Enum.GetValues<BayesianMethod>())
        {
            var picked = TrainingMethod.For(method);
            Assert.AreEqual(method, picked.Method);
            Assert.IsTrue(classes.Add(picked.GetType()), $"{picked.GetType().Name} answers for two methods");
        }
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => TrainingMethod.For((BayesianMethod)99));
    }
}
