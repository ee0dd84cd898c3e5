using System.Reflection;
using System.Text.RegularExpressions;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Tests.Torch;

/// <summary>
/// <see cref="ScalarSafeOps"/> exists because TorchSharp 0.107 hands LibTorch temporary Scalar objects that a garbage
/// collection on another thread may finalize mid-call. These tests run the helpers while another thread collects and
/// finalizes without pause, and check every result.
/// </summary>
[TestClass]
public sealed class ScalarSafeOpsTests
{
    [TestMethod]
    public void HelpersStayCorrectWhileAnotherThreadCollectsAndFinalizes()
    {
        using var collector = new BackgroundCollector();
        var deadline = DateTime.UtcNow.AddSeconds(4);
        int calls = 0;
        while (DateTime.UtcNow < deadline)
        {
            using var scope = NewDisposeScope();
            using var x = full(4096, -3.0);
            using var sum = ScalarSafeOps.Add(x, 1.25);
            using var clamped = ScalarSafeOps.ClampMin(x, -1.0);
            using var plus = x.Plus(sum);
            using var minus = x.Minus(sum);
            using var softplus = ScalarSafeOps.Softplus(x);
            using var square = x.Square();
            Assert.AreEqual(-1.75f, sum[0].item<float>(), $"x + 1.25 after {calls} calls");
            Assert.AreEqual(-1.0f, clamped[4095].item<float>(), $"max(x, -1) after {calls} calls");
            Assert.AreEqual(-4.75f, plus[7].item<float>(), $"x + (x + 1.25) after {calls} calls");
            Assert.AreEqual(-1.25f, minus[9].item<float>(), $"x - (x + 1.25) after {calls} calls");
            Assert.AreEqual(Math.Log(1 + Math.Exp(-3.0)), softplus[3].item<float>(), 1e-6, $"softplus after {calls} calls");
            Assert.AreEqual(9f, square[11].item<float>(), $"x * x after {calls} calls");
            calls++;
        }
        Assert.IsTrue(calls > 100, $"only {calls} rounds ran");
    }

    /// <summary>
    /// TorchSharp helpers that build a temporary Scalar inside (<c>square()</c> is <c>pow(2)</c>; <c>celu()</c> and
    /// <c>elu()</c> pass their defaults as Scalars) stay out of the library: a collection on another thread during the call
    /// fails it at random (CI: "Unknown scalar type" from <c>square()</c> in the feature distance while scoring), which the
    /// stress tests only catch by luck. The source is the one place where this can be checked every time.
    /// </summary>
    [TestMethod]
    public void TheLibraryCallsNoTorchSharpHelperThatBuildsATemporaryScalar()
    {
        string library = Path.Combine(typeof(ScalarSafeOpsTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "RepositoryRoot").Value!, "src", "MLNet.Bayesian");
        var unsafeCall = new Regex(@"\.(square|celu|celu_|elu|elu_)\(\)|\.pow\(\s*-?[0-9]");
        var found = new List<string>();
        int files = 0;
        foreach (string file in Directory.EnumerateFiles(library, "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}")))
        {
            files++;
            int number = 0;
            foreach (string line in File.ReadLines(file))
            {
                number++;
                if (unsafeCall.IsMatch(line.Split("//")[0])) found.Add($"{Path.GetRelativePath(library, file)}:{number}: {line.Trim()}");
            }
        }
        Assert.IsTrue(files > 50, $"only {files} source files under {library}");
        Assert.IsTrue(unsafeCall.IsMatch("var y = x.square();") && unsafeCall.IsMatch("x.pow(2)") && !unsafeCall.IsMatch("x.Square()"), "the pattern finds what it is for");
        Assert.AreEqual(0, found.Count, "use ScalarSafeOps (x.Square(), x.mul(x)) instead:\n" + string.Join("\n", found));
    }
}
