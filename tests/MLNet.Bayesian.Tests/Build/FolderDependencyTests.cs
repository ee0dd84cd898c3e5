using System.Reflection;
using System.Text.RegularExpressions;

namespace MLNet.Bayesian.Tests.Build;

/// <summary>
/// The folders of the library (one namespace each) depend on each other in one direction only, so that each can be read,
/// tested and changed knowing only the folders below it. A folder depends on another when one of its files names that
/// namespace in code: a using directive or a qualified name (comments do not count).
/// </summary>
[TestClass]
public sealed partial class FolderDependencyTests
{
    static string Library => Path.Combine(typeof(FolderDependencyTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "RepositoryRoot").Value!, "src", "MLNet.Bayesian");

    [GeneratedRegex(@"\bMLNet\.Bayesian\.([A-Z][A-Za-z]*)\b")]
    private static partial Regex NamespaceReference();

    internal static Dictionary<string, HashSet<string>> Dependencies(string root)
    {
        var folders = Directory.GetDirectories(root).Select(Path.GetFileName).Where(f => f is not ("bin" or "obj")).Cast<string>().ToHashSet();
        var edges = folders.ToDictionary(f => f, _ => new HashSet<string>());
        foreach (string folder in folders)
            foreach (string file in Directory.EnumerateFiles(Path.Combine(root, folder), "*.cs", SearchOption.AllDirectories))
                foreach (string line in File.ReadLines(file))
                {
                    string code = line.Split("//")[0];
                    foreach (Match m in NamespaceReference().Matches(code))
                        if (m.Groups[1].Value is var target && target != folder && folders.Contains(target)) edges[folder].Add(target);
                }
        return edges;
    }

    /// <summary>A cycle of folders as "A -> B -> A", or null.</summary>
    internal static string? FindCycle(IReadOnlyDictionary<string, HashSet<string>> edges)
    {
        var state = new Dictionary<string, int>();   // 1: on the current path, 2: done
        var path = new List<string>();
        string? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (string next in edges[node].Order())
            {
                if (state.GetValueOrDefault(next) == 1) return string.Join(" -> ", path.SkipWhile(p => p != next).Append(next));
                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } found) return found;
            }
            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }
        foreach (string node in edges.Keys.Order())
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle) return cycle;
        return null;
    }

    [TestMethod]
    public void TheLibrarysFoldersHaveNoDependencyCycle()
    {
        var edges = Dependencies(Library);
        Assert.IsTrue(edges.Count >= 10, $"found the folders of {Library}");
        foreach (var (folder, targets) in edges.OrderBy(e => e.Key)) Console.WriteLine($"{folder} -> {string.Join(" ", targets.Order())}");
        Assert.IsNull(FindCycle(edges));
    }

    [TestMethod]
    public void TheCycleFinderFindsACycleAndOnlyACycle()
    {
        var chain = new Dictionary<string, HashSet<string>> { ["A"] = new() { "B" }, ["B"] = new() { "C" }, ["C"] = new() };
        Assert.IsNull(FindCycle(chain));
        chain["C"].Add("A");
        Assert.AreEqual("A -> B -> C -> A", FindCycle(chain));
    }
}
