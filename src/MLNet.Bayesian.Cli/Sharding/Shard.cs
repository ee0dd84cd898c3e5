using System.Text;
using System.Text.RegularExpressions;

namespace MLNet.Bayesian.Cli.Sharding;

/// <summary>
/// One of N parts of a scoring job: shard K of N (K = 0 .. N-1) scores the images whose relative path hashes to K,
/// into its own CSV part. The assignment depends only on the path and N, never on which other files exist, so adding
/// images to the folder moves none of the others, and every worker can list the folder itself. <see cref="Source"/>
/// says where the shard was given (<c>--shard</c>, or which scheduler variables).
/// </summary>
internal sealed record Shard(int Index, int Count, string Source)
{
    /// <summary>Parses <c>K/N</c> (for example <c>2/4</c>: the third of four shards).</summary>
    public static Shard Parse(string text, string source)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int k) || !int.TryParse(parts[1], out int n))
            throw new ArgumentException($"{source}: '{text}' is not a shard; write K/N with K = 0 .. N-1, for example 0/4.");
        return Create(k, n, source);
    }

    /// <summary>Checks <paramref name="index"/> and <paramref name="count"/> and makes the shard.</summary>
    public static Shard Create(int index, int count, string source)
    {
        if (count < 1) throw new ArgumentException($"{source}: the shard count is {count}; it must be at least 1.");
        if (index < 0 || index >= count)
            throw new ArgumentException($"{source}: shard {index} of {count} does not exist; shards are numbered 0 .. {count - 1}.");
        return new Shard(index, count, source);
    }

    /// <summary>
    /// The shard the scheduler gave this process, when <c>--shard</c> is not given: a Slurm array task
    /// (<c>SLURM_ARRAY_TASK_ID</c>; the count from <c>--shards</c>, else <c>SLURM_ARRAY_TASK_COUNT</c>) or a Kubernetes
    /// Indexed Job pod (<c>JOB_COMPLETION_INDEX</c>, which needs <c>--shards</c>: Kubernetes does not pass the count).
    /// Null when neither is set and no count was given.
    /// </summary>
    public static Shard? FromEnvironment(int? shards, Func<string, string?> environment)
    {
        string? slurmTask = environment("SLURM_ARRAY_TASK_ID");
        string? k8sIndex = environment("JOB_COMPLETION_INDEX");
        if (slurmTask is not null)
        {
            int index = Integer(slurmTask, "SLURM_ARRAY_TASK_ID");
            if (shards is int n) return Create(index, n, $"SLURM_ARRAY_TASK_ID with --shards {n}");
            // A resubmitted subset (sbatch --array=2) has a task count of 1 and a task id of 2: the count of the
            // whole job cannot be read from the environment then, only from --shards.
            int count = environment("SLURM_ARRAY_TASK_COUNT") is { } total ? Integer(total, "SLURM_ARRAY_TASK_COUNT")
                : throw new ArgumentException("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not (Slurm older than 20.11?): give --shards N, the size of the array.");
            int min = Integer(environment("SLURM_ARRAY_TASK_MIN") ?? "0", "SLURM_ARRAY_TASK_MIN");
            int max = Integer(environment("SLURM_ARRAY_TASK_MAX") ?? (count - 1).ToString(), "SLURM_ARRAY_TASK_MAX");
            if (min != 0 || max != count - 1)
                throw new ArgumentException($"this Slurm array runs tasks {min} .. {max} ({count} tasks), so the shard count cannot be read from it: " +
                    "submit the whole job as --array=0-(N-1), and give --shards N when resubmitting some of its tasks.");
            return Create(index, count, "SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT");
        }
        if (k8sIndex is not null)
        {
            int index = Integer(k8sIndex, "JOB_COMPLETION_INDEX");
            if (shards is not int n)
                throw new ArgumentException("JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but --shards is not: give --shards N, the job's completions.");
            return Create(index, n, $"JOB_COMPLETION_INDEX with --shards {n}");
        }
        if (shards is not null)
            throw new ArgumentException("--shards is given but neither --shard, SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX says which shard this is.");
        return null;
    }

    static int Integer(string text, string name)
        => int.TryParse(text, out int value) ? value : throw new ArgumentException($"{name} is '{text}', not a whole number.");

    /// <summary>Whether the image at <paramref name="relativePath"/> (relative to the scored folder) belongs to this shard.</summary>
    public bool Owns(string relativePath) => Of(relativePath, Count) == Index;

    /// <summary>
    /// The shard of a relative path: FNV-1a (64 bit) of its UTF-8 bytes with '/' as separator, modulo the count.
    /// A fixed, documented hash rather than <c>string.GetHashCode</c>, which .NET randomises per process.
    /// </summary>
    public static int Of(string relativePath, int count)
    {
        const ulong offset = 14695981039346656037, prime = 1099511628211;
        ulong hash = offset;
        foreach (byte b in Encoding.UTF8.GetBytes(relativePath.Replace('\\', '/')))
        {
            hash ^= b;
            hash *= prime;
        }
        return (int)(hash % (ulong)count);
    }

    /// <summary>The CSV part of this shard: <c>predictions.csv</c> becomes <c>predictions.part-2-of-4.csv</c>.</summary>
    public string PartPath(string output) => PartPath(output, Index, Count);

    /// <summary>The CSV part <paramref name="index"/> of <paramref name="count"/> beside <paramref name="output"/>.</summary>
    public static string PartPath(string output, int index, int count)
    {
        string directory = Path.GetDirectoryName(output) ?? "";
        string name = Path.GetFileNameWithoutExtension(output), extension = Path.GetExtension(output);
        return Path.Combine(directory, $"{name}.part-{index}-of-{count}{extension}");
    }

    /// <summary>
    /// Whether <paramref name="file"/> is a part of <paramref name="output"/> (the inverse of <see cref="PartPath(string, int, int)"/>),
    /// and which: <c>predictions.part-2-of-4.csv</c> is part 2 of 4 of <c>predictions.csv</c>.
    /// </summary>
    public static bool TryParsePartPath(string output, string file, out int index, out int count)
    {
        string name = Path.GetFileNameWithoutExtension(output), extension = Path.GetExtension(output);
        var match = Regex.Match(Path.GetFileName(file), "^" + Regex.Escape(name) + @"\.part-(\d+)-of-(\d+)" + Regex.Escape(extension) + "$");
        index = count = 0;
        return match.Success && int.TryParse(match.Groups[1].Value, out index) && int.TryParse(match.Groups[2].Value, out count);
    }

    /// <inheritdoc />
    public override string ToString() => $"shard {Index} of {Count} (0 .. {Count - 1})";
}
