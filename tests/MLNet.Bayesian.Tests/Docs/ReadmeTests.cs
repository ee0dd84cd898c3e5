using System.Text.RegularExpressions;

namespace MLNet.Bayesian.Tests.Docs;

/// <summary>
/// The README stays a short front page (issue 31): the two commands first, one results table copied from the file a
/// benchmark wrote, and links into docs/ that all lead somewhere.
/// </summary>
[TestClass]
public sealed class ReadmeTests
{
    const int MaxReadmeLines = 150;
    const string ResultsFolder = "tests/MLNet.Bayesian.Benchmarks/results/";

    static readonly Regex Link = new(@"\[(?<text>[^\]]*)\]\((?<target>[^)\s]+)(?:\s+""[^""]*"")?\)", RegexOptions.Compiled);
    static readonly Regex FencedBlock = new(@"^```.*?^```[^\n]*$", RegexOptions.Compiled | RegexOptions.Multiline | RegexOptions.Singleline);
    static readonly Regex CodeSpan = new(@"`[^`]*`", RegexOptions.Compiled);

    static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNet.Bayesian.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No MLNet.Bayesian.sln above {AppContext.BaseDirectory}.");
    }

    static string ReadmePath => Path.Combine(Root, "README.md");

    static IEnumerable<string> MarkdownFiles()
    {
        yield return ReadmePath;
        foreach (var page in Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal))
            yield return page;
    }

    /// <summary>The links of a markdown file, outside fenced code blocks and code spans (where brackets are code).</summary>
    static List<string> LinkTargets(string markdown)
    {
        string prose = CodeSpan.Replace(FencedBlock.Replace(markdown.ReplaceLineEndings("\n"), ""), "");
        return Link.Matches(prose).Select(m => m.Groups["target"].Value).ToList();
    }

    static bool IsExternal(string target) =>
        target.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase);

    static string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    [TestMethod]
    public void ReadmeIsShortAndStartsWithTheTwoCommands()
    {
        string[] lines = File.ReadAllLines(ReadmePath);
        Assert.IsTrue(lines.Length <= MaxReadmeLines, $"README.md has {lines.Length} lines; at most {MaxReadmeLines} (the rest belongs in docs/).");

        int open = Array.FindIndex(lines, l => l.StartsWith("```"));
        Assert.IsTrue(open >= 0, "README.md has no fenced code block.");
        int close = Array.FindIndex(lines, open + 1, l => l.StartsWith("```"));
        Assert.IsTrue(close > open, "README.md's first code block is not closed.");
        string firstBlock = string.Join("\n", lines[(open + 1)..close]);
        StringAssert.Contains(firstBlock, "bash eng/run-main-job.sh", "the main job must be the first command of the README");
        StringAssert.Contains(firstBlock, "bash .ci/run", "the test run must be in the README's first code block");
    }

    [TestMethod]
    public void EveryRelativeLinkLeadsToAFileOrFolder()
    {
        var broken = new List<string>();
        int checkedLinks = 0;
        foreach (string file in MarkdownFiles())
        {
            string folder = Path.GetDirectoryName(file)!;
            foreach (string target in LinkTargets(File.ReadAllText(file)))
            {
                if (IsExternal(target) || target.StartsWith('#')) continue;
                string path = Uri.UnescapeDataString(target.Split('#')[0]);
                string full = Path.GetFullPath(Path.Combine(folder, path));
                checkedLinks++;
                if (full != Root && !full.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    broken.Add($"{Relative(file)}: ({target}) leaves the repository");
                else if (!File.Exists(full) && !Directory.Exists(full))
                    broken.Add($"{Relative(file)}: ({target}) -> {Relative(full)} does not exist");
            }
        }
        Assert.IsTrue(checkedLinks > 50, $"only {checkedLinks} relative links found: is the link pattern still right?");
        Assert.AreEqual(0, broken.Count, "broken links:\n" + string.Join("\n", broken));
    }

    /// <summary>A link to a heading of another page (page.md#heading) names a heading that page has, as GitHub spells its anchors.</summary>
    [TestMethod]
    public void LinksToHeadingsNameExistingHeadings()
    {
        var broken = new List<string>();
        foreach (string file in MarkdownFiles())
        {
            string folder = Path.GetDirectoryName(file)!;
            foreach (string target in LinkTargets(File.ReadAllText(file)).Where(t => !IsExternal(t) && t.Contains('#')))
            {
                string[] parts = target.Split('#', 2);
                string page = parts[0].Length == 0 ? file : Path.GetFullPath(Path.Combine(folder, Uri.UnescapeDataString(parts[0])));
                if (!page.EndsWith(".md", StringComparison.OrdinalIgnoreCase) || !File.Exists(page)) continue;
                var anchors = File.ReadAllLines(page).Where(l => l.StartsWith('#')).Select(l => Anchor(l.TrimStart('#'))).ToHashSet();
                if (!anchors.Contains(parts[1])) broken.Add($"{Relative(file)}: ({target}) names no heading of {Relative(page)}");
            }
        }
        Assert.AreEqual(0, broken.Count, string.Join("\n", broken));
    }

    /// <summary>GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.</summary>
    static string Anchor(string heading) =>
        new string(heading.Trim().ToLowerInvariant().Where(c => char.IsLetterOrDigit(c) || c is ' ' or '-' or '_').ToArray()).Replace(' ', '-');

    [TestMethod]
    public void ReadmeLinksEveryDocsPage()
    {
        var linked = LinkTargets(File.ReadAllText(ReadmePath)).Select(t => t.Split('#')[0]).ToHashSet(StringComparer.Ordinal);
        var missing = Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Select(Relative).Where(p => !linked.Contains(p)).ToList();
        Assert.AreEqual(0, missing.Count, "docs pages the README does not link: " + string.Join(", ", missing));
    }

    /// <summary>
    /// docs/architecture.md names, for every folder of src/MLNet.Bayesian and for the CLI, the folders its code uses: they
    /// are its <c>using MLNet.Bayesian.X</c> lines, so the page follows the code when a class moves.
    /// </summary>
    [TestMethod]
    public void ArchitecturePageNamesTheFoldersEachFolderUses()
    {
        string page = File.ReadAllText(Path.Combine(Root, "docs", "architecture.md")).ReplaceLineEndings("\n");
        var usingLine = new Regex(@"^using MLNet\.Bayesian\.(?<folder>[A-Za-z]+)", RegexOptions.Multiline);
        var library = Path.Combine(Root, "src", "MLNet.Bayesian");
        var parts = Directory.GetDirectories(library).Select(Path.GetFileName).Where(n => n is not ("bin" or "obj"))
            .Select(n => (Name: n!, Folder: Path.Combine(library, n!)))
            .Append((Name: "MLNet.Bayesian.Cli", Folder: Path.Combine(Root, "src", "MLNet.Bayesian.Cli")))
            .ToList();
        Assert.IsTrue(parts.Count >= 15, $"only {parts.Count} source folders found under {library}");

        var wrong = new List<string>();
        foreach (var (name, folder) in parts)
        {
            var used = Directory.EnumerateFiles(folder, "*.cs", SearchOption.AllDirectories)
                .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}") && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))
                .SelectMany(f => usingLine.Matches(File.ReadAllText(f)).Select(m => m.Groups["folder"].Value))
                .Where(u => u != name && u != "Cli").ToHashSet();
            var line = Regex.Match(page, @"^- \*\*" + Regex.Escape(name) + @"\*\*.*?Uses: (?<uses>[^.]*)\.", RegexOptions.Multiline | RegexOptions.Singleline);
            if (!line.Success) { wrong.Add($"{name}: no '- **{name}**: ... Uses: ...' line"); continue; }
            string stated = Regex.Replace(line.Groups["uses"].Value, @"\s+", " ").Trim();
            var named = stated == "none" ? new HashSet<string>() : stated.Split(',').Select(s => s.Trim()).ToHashSet();
            if (!named.SetEquals(used))
                wrong.Add($"{name}: the page says '{stated}', the code uses {(used.Count == 0 ? "none" : string.Join(", ", used.Order(StringComparer.Ordinal)))}");
        }
        Assert.AreEqual(0, wrong.Count, "docs/architecture.md is out of date:\n" + string.Join("\n", wrong));
    }

    /// <summary>
    /// The README's one table (its lines that start with '|') is a contiguous block of the benchmark output it names: the
    /// first link after the table (else the last before it) into the benchmarks' results folder.
    /// </summary>
    [TestMethod]
    public void ReadmeTableIsCopiedVerbatimFromTheBenchmarkFileItNames()
    {
        string[] lines = File.ReadAllLines(ReadmePath);
        int first = Array.FindIndex(lines, l => l.StartsWith('|'));
        int last = Array.FindLastIndex(lines, l => l.StartsWith('|'));
        Assert.IsTrue(first >= 0, "README.md has no table.");
        string[] table = lines[first..(last + 1)];
        Assert.IsTrue(table.All(l => l.StartsWith('|')), "README.md's table lines must be one block (one table, no gaps).");
        Assert.IsTrue(table.Length >= 3, "a table has a header, a separator and at least one row");

        static string? ResultsLink(IEnumerable<string> text) =>
            LinkTargets(string.Join("\n", text)).FirstOrDefault(t => !IsExternal(t) && t.StartsWith(ResultsFolder, StringComparison.Ordinal));
        string? source = ResultsLink(lines[(last + 1)..]) ?? ResultsLink(lines[..first].Reverse());
        Assert.IsNotNull(source, $"README.md links no file under {ResultsFolder} near its table.");

        string path = Path.Combine(Root, source.Split('#')[0]);
        Assert.IsTrue(File.Exists(path), $"{source} does not exist");
        string[] written = File.ReadAllLines(path);
        bool found = Enumerable.Range(0, Math.Max(0, written.Length - table.Length + 1))
            .Any(start => table.Select((line, i) => written[start + i] == line).All(same => same));
        Assert.IsTrue(found, $"README.md's table ({table.Length} lines from line {first + 1}) is not a contiguous block of {source}.");
    }
}
