using System.Text;

namespace MLNet.Bayesian.Cli.Sharding;

/// <summary>
/// Reads the CSV parts that sharded <c>score</c> runs wrote beside one output path and checks them against the scored
/// folder: every image exactly one row, in the part its hash assigns it to, every part present and whole. What is
/// wrong is collected as <see cref="Problems"/>, one line each, rather than thrown, so that a user sees all of it at once.
/// </summary>
internal sealed class PartsCheck
{
    readonly string _output, _imageFolder;
    /// <summary>Shards whose part must be deleted before running them again (another model's part): not run again as they are.</summary>
    readonly HashSet<int> _foreign = new();
    int _modelPart;

    PartsCheck(string output, string imageFolder) => (_output, _imageFolder) = (output, imageFolder);

    /// <summary>The header shared by the parts (null when none could be read).</summary>
    public string? Header { get; private set; }
    /// <summary>The rows of the parts by relative path (the first row where a path is duplicated).</summary>
    public Dictionary<string, string> Rows { get; } = new(StringComparer.Ordinal);
    /// <summary>Each problem found, one line each: a missing part, a torn line, a missing or duplicated image, ...</summary>
    public List<string> Problems { get; } = new();
    /// <summary>The SHA-256 of the model that wrote the parts (null when they do not record it).</summary>
    public string? Model { get; private set; }
    /// <summary>The shard count of the parts.</summary>
    public int Count { get; private set; }
    /// <summary>
    /// The shards whose part is missing, torn or lacks rows: running them again (they resume their parts) repairs it.
    /// Duplicated rows, rows in the wrong part and rows without an image are not repaired that way and are not here.
    /// </summary>
    public SortedSet<int> ShardsToRunAgain { get; } = new();
    /// <summary>How many rows are error rows (a result too: the image could not be scored and the row says why).</summary>
    public int ErrorRows { get; private set; }

    /// <summary>
    /// Finds the parts of <paramref name="output"/> (<c>name.part-K-of-N.ext</c> in its folder) and checks them against
    /// <paramref name="relativePaths"/>, the images of the scored folder. <paramref name="count"/>: the expected N, or
    /// null to take it from the parts found. <paramref name="imageFolder"/> and <paramref name="output"/> also go into the
    /// commands that the problems suggest.
    /// </summary>
    public static PartsCheck Run(string output, string imageFolder, IReadOnlyList<string> relativePaths, int? count)
    {
        var check = new PartsCheck(output, imageFolder);
        string directory = Path.GetDirectoryName(Path.GetFullPath(output))!;
        string name = Path.GetFileNameWithoutExtension(output), extension = Path.GetExtension(output);
        var found = new List<(int Index, int Count, string Path)>();
        if (Directory.Exists(directory))
            foreach (string file in Directory.EnumerateFiles(directory))
                if (Shard.TryParsePartPath(output, file, out int k, out int n)) found.Add((k, n, file));
        var counts = found.Select(p => p.Count).Distinct().OrderBy(n => n).ToList();
        if (count is null)
        {
            if (counts.Count == 0)
            {
                check.Problems.Add($"no parts {name}.part-K-of-N{extension} in '{directory}': run 'score --shard K/N --out {output}' (or a Slurm array task) first.");
                return check;
            }
            if (counts.Count > 1)
            {
                check.Problems.Add($"'{directory}' holds parts of {string.Join(" and ", counts)} shards ({name}.part-K-of-N{extension} with N = {string.Join(", ", counts)}); " +
                    "remove the parts of the old run or give --shards N.");
                return check;
            }
            count = counts[0];
        }
        check.Count = count.Value;
        var shardOf = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var part in found.Where(p => p.Count == check.Count).OrderBy(p => p.Index))
        {
            if (part.Index >= check.Count) { check.Problems.Add($"'{part.Path}' names shard {part.Index} of {check.Count}, which does not exist."); continue; }
            check.Read(part.Path, part.Index, shardOf);
        }
        for (int k = 0; k < check.Count; k++)
            if (!found.Any(p => p.Count == check.Count && p.Index == k))
            {
                check.Problems.Add($"part {Shard.PartPath(output, k, check.Count)} is missing: shard {k} of {check.Count} has not run ({check.Rerun(k)}).");
                check.ShardsToRunAgain.Add(k);
            }

        var images = new HashSet<string>(relativePaths, StringComparer.Ordinal);
        foreach (string path in relativePaths)
            if (!check.Rows.ContainsKey(path))
            {
                int shard = Shard.Of(path, check.Count);
                if (check._foreign.Contains(shard)) continue;   // said once, for the whole part
                check.Problems.Add($"missing: '{path}' has no row (shard {shard}).");
                check.ShardsToRunAgain.Add(shard);
            }
        foreach (string path in check.Rows.Keys.Where(p => !images.Contains(p)).OrderBy(p => p, StringComparer.Ordinal))
            check.Problems.Add($"not in the folder: '{path}' has a row in part {shardOf[path]} but no image (removed or renamed after scoring): " +
                $"restore it, or delete that part and run its shard again ({check.Rerun(shardOf[path])}).");
        check.ShardsToRunAgain.ExceptWith(check._foreign);
        return check;
    }

    /// <summary>The command that runs shard <paramref name="k"/> again into its part.</summary>
    string Rerun(int k) => $"score --model <the model> --images {Quote(_imageFolder)} --out {Quote(_output)} --shard {k}/{Count}";

    static string Quote(string path) => path.Contains(' ') ? $"\"{path}\"" : path;

    static string Short(string? digest) => digest is null ? "unknown" : digest[..Math.Min(12, digest.Length)];

    void Read(string file, int index, Dictionary<string, int> shardOf)
    {
        string text = File.ReadAllText(file, new UTF8Encoding(false));
        var lines = text.Split('\n');
        // Split leaves "" after a final newline; anything else there is a line the writer did not finish (a killed task).
        if (lines[^1].Length > 0)
        {
            ShardsToRunAgain.Add(index);
            Problems.Add($"'{file}' ends in a torn line (a task killed while writing): run its shard again to repair it ({Rerun(index)}).");
        }
        if (lines.Length < 2)
        {
            Problems.Add($"'{file}' is empty: shard {index} of {Count} has not written its header.");
            ShardsToRunAgain.Add(index);
            return;
        }
        string header = lines[0];
        string? model = PredictionsCsv.ModelOf(file);
        if (Header is null) { Header = header; Model = model; _modelPart = index; }
        else if (header != Header || (model is not null && Model is not null && model != Model))
        {
            _foreign.Add(index);
            Problems.Add($"'{file}' was written by another model than part {_modelPart} ({(header != Header ? "other columns" : $"model {Short(model)} against {Short(Model)}")}): " +
                $"delete it and run shard {index} again with the same model as the other parts ({Rerun(index)}).");
            return;
        }
        for (int i = 1; i < lines.Length - 1; i++)
        {
            string line = lines[i];
            if (line.Length == 0) continue;
            var fields = CsvFields.Split(line);
            string path = fields[0];
            if (shardOf.TryGetValue(path, out int earlier))
            {
                Problems.Add((earlier == index ? $"duplicated: '{path}' has two rows in part {index}" : $"duplicated: '{path}' has rows in parts {earlier} and {index}") +
                    $" (parts of different runs, or edited by hand): delete the part that should not hold it and run that shard again ({Rerun(Shard.Of(path, Count))}).");
                continue;
            }
            if (Shard.Of(path, Count) != index)
                Problems.Add($"wrong part: '{path}' belongs to shard {Shard.Of(path, Count)} of {Count} but is in part {index} " +
                    $"(a part of a run with another shard count, renamed?): delete part {index} and run shard {index} again ({Rerun(index)}).");
            shardOf[path] = index;
            Rows[path] = line;
            if (fields[^1].Length > 0) ErrorRows++;
        }
    }
}
