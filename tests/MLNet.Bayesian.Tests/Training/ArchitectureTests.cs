using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Training;

[TestClass]
public sealed class ArchitectureTests
{
    [TestMethod]
    [DataRow(Architecture.SmallCnn, 1, 28)]
    [DataRow(Architecture.ResNet20, 1, 28)]
    [DataRow(Architecture.ResNet18, 1, 32)]
    [DataRow(Architecture.SmallVit, 1, 28)]
    [DataRow(Architecture.ResNet20, 3, 32)]
    public void ConvertsAndTrainsAStepInEveryStage(Architecture architecture, int channels, int size)
    {
        random.manual_seed(1);
        using var net = new BayesianNetwork(ArchitectureFactory.Create(architecture)(channels, size, size, 10));
        using var x = rand(4, channels, size, size);
        using var y = tensor(new long[] { 1, 2, 3, 4 });
        long deterministic = net.TrainableParameterCount;
        Step(net, x, y);
        net.ConvertToMeanField();
        Assert.IsTrue(net.Layers.Count > 0);
        Assert.AreEqual(deterministic + net.BayesianWeightCount, net.TrainableParameterCount, "mean-field adds one rho per weight");
        Step(net, x, y);
        var points = net.PosteriorPoints(null);
        var plan = SharedPosteriorBuilder.Build(points, new SharedPosteriorOptions { ComponentBudget = 32, Mixture = new MixtureFitOptions { MaxIterations = 20 } });
        net.UseSharedPosterior(new SharedPosterior(plan, SamplingVariant.Hierarchical));
        Step(net, x, y);
        long shared = net.TrainableParameterCount;
        Console.WriteLine($"{architecture}: deterministic {deterministic:N0}, shared {shared:N0} ({plan.Statistics})");
        Assert.IsTrue(shared < deterministic);
    }

    static void Step(BayesianNetwork net, Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        net.train();
        using var optimizer = optim.Adam(net.parameters(), 1e-3);
        var loss = nn.functional.cross_entropy(net.call(x), y) + net.KL(1.0) / 1000;
        loss.backward();
        optimizer.step();
        Assert.IsTrue(float.IsFinite(loss.item<float>()));
    }
}
