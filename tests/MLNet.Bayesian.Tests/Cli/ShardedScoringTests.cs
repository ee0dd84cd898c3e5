using System.Globalization;
using MLNet.Bayesian.Cli.Sharding;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// <c>score --shard K/N</c> and <c>merge</c> as a batch job on several workers runs them: the parts together hold every
/// image exactly once, the merged CSV equals one process's, and merge refuses (listing why) whatever is missing,
/// duplicated or torn.
/// </summary>
[TestClass]
public sealed class ShardedScoringTests
{
    /// <summary>
    /// Compares two predictions CSVs row by row: the same paths in the same order, the same labels, decisions and
    /// errors, and every number equal to <paramref name="tolerance"/>.
    /// </summary>
    internal static void AssertSameRows(string expectedCsv, string actualCsv, double tolerance)
    {
        var expected = File.ReadAllLines(expectedCsv);
        var actual = File.ReadAllLines(actualCsv);
        Assert.AreEqual(expected[0], actual[0], "the same header");
        Assert.AreEqual(expected.Length, actual.Length, "the same number of rows");
        for (int i = 1; i < expected.Length; i++)
        {
            var e = CliTool.Fields(expected[i]);
            var a = CliTool.Fields(actual[i]);
            Assert.AreEqual(e.Count, a.Count, $"row {i}: every column");
            for (int j = 0; j < e.Count; j++)
            {
                if (double.TryParse(e[j], NumberStyles.Float, CultureInfo.InvariantCulture, out double x) &&
                    double.TryParse(a[j], NumberStyles.Float, CultureInfo.InvariantCulture, out double y))
                    Assert.AreEqual(x, y, tolerance, $"row {i} ({e[0]}), column {j}");
                else
                    Assert.AreEqual(e[j], a[j], $"row {i} ({e[0]}), column {j}");
            }
        }
    }

    static string NewFolder(string name)
    {
        string folder = Path.Combine(CliTool.Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        ImageFolder.Write(TestData.Test.StratifiedHead(6), Path.Combine(folder, "images"));
        File.WriteAllText(Path.Combine(folder, "images", "Bag", "not-an-image.png"), "this is text");
        return folder;
    }

    [TestMethod]
    public void TheAssignmentIsAFixedHashOfThePathAndSpreadsEvenly()
    {
        // FNV-1a of the UTF-8 path: the same on every machine, every run and every .NET version (string.GetHashCode
        // is randomised per process), and with either path separator.
        Assert.AreEqual(2, Shard.Of("Bag/000018.png", 4));
        Assert.AreEqual(Shard.Of("a/b/c.png", 7), Shard.Of("a\\b\\c.png", 7));
        var counts = new int[8];
        for (int i = 0; i < 8000; i++) counts[Shard.Of($"class-{i % 10}/{i:D6}.png", 8)]++;
        foreach (int count in counts) Assert.IsTrue(count is > 850 and < 1150, $"each of 8 shards gets about 1,000 of 8,000 paths: {string.Join(", ", counts)}");
        Assert.AreEqual("predictions.part-2-of-4.csv", Path.GetFileName(Shard.PartPath("out/predictions.csv", 2, 4)));
        Assert.ThrowsExactly<ArgumentException>(() => Shard.Parse("4/4", "--shard"));
        Assert.ThrowsExactly<ArgumentException>(() => Shard.Parse("1-4", "--shard"));
    }

    [TestMethod]
    public void ThreeShardsMergedEqualOneProcessAndEachImageIsInOnePart()
    {
        string folder = NewFolder("three");
        string images = Path.Combine(folder, "images");
        string single = Path.Combine(folder, "single.csv"), merged = Path.Combine(folder, "sharded", "predictions.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(merged)!);
        Assert.AreEqual(1, CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", single).Code, "the text file is an error row");

        int rows = 0;
        for (int k = 0; k < 3; k++)
        {
            var (code, output) = CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", merged, "--shard", $"{k}/3", "--batch", "5");
            StringAssert.Contains(output, $"shard {k} of 3");
            var part = CliTool.RowsByPath(Shard.PartPath(merged, k, 3));
            Assert.IsTrue(part.Count > 5, $"shard {k} holds a share of the 61 images ({part.Count})");
            foreach (string path in part.Keys) Assert.AreEqual(k, Shard.Of(path, 3), $"{path} is in the part its hash names");
            Assert.AreEqual(part.ContainsKey("Bag/not-an-image.png") ? 1 : 0, code, "exit code 1 only for the part with the error row");
            rows += part.Count;
        }
        Assert.AreEqual(61, rows, "the parts together hold every image once");

        var (mergeCode, mergeOutput) = CliTool.Run("merge", "--images", images, "--out", merged);
        Assert.AreEqual(0, mergeCode, mergeOutput);
        StringAssert.Contains(mergeOutput, "61 images, one row each from 3 parts (1 error rows)");
        AssertSameRows(single, merged, 1e-6);
    }

    [TestMethod]
    public void TheShardComesFromSlurmOrKubernetesAndAResubmittedTaskNeedsTheCount()
    {
        string folder = NewFolder("scheduler");
        string images = Path.Combine(folder, "images"), csv = Path.Combine(folder, "predictions.csv");
        string[] score = { "score", "--model", CliTool.Model, "--images", images, "--out", csv };

        var (code, output) = CliTool.Run(score, new Dictionary<string, string?>
            { ["SLURM_ARRAY_TASK_ID"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "2", ["SLURM_ARRAY_TASK_MIN"] = "0", ["SLURM_ARRAY_TASK_MAX"] = "1" });
        StringAssert.Contains(output, "shard 1 of 2");
        Assert.IsTrue(File.Exists(Shard.PartPath(csv, 1, 2)), output);

        // sbatch --array=1 (one task of the job submitted again): the count cannot come from Slurm.
        var resubmitted = new Dictionary<string, string?>
            { ["SLURM_ARRAY_TASK_ID"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "1", ["SLURM_ARRAY_TASK_MIN"] = "1", ["SLURM_ARRAY_TASK_MAX"] = "1" };
        (code, output) = CliTool.Run(score, resubmitted);
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "give --shards N when resubmitting");
        (code, output) = CliTool.Run(score.Append("--shards").Append("2").ToArray(), resubmitted);
        StringAssert.Contains(output, "shard 1 of 2");
        StringAssert.Contains(output, "0 to score", "the resubmitted task resumes its part");

        // A Kubernetes Indexed Job pod: the index from the environment, the count from --shards.
        (code, output) = CliTool.Run(score, new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = "0" });
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "give --shards N");
        (code, output) = CliTool.Run(score.Append("--shards").Append("2").ToArray(), new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = "0" });
        StringAssert.Contains(output, "shard 0 of 2");

        (code, output) = CliTool.Run("merge", "--images", images, "--out", csv);
        Assert.AreEqual(0, code, output);
        (code, output) = CliTool.Run(score.Append("--shard").Append("4/4").ToArray());
        Assert.AreNotEqual(0, code);
        StringAssert.Contains(output, "shard 4 of 4 does not exist");
    }

    [TestMethod]
    public void MergeListsWhatIsMissingDuplicatedOrTornAndWritesNothing()
    {
        string folder = NewFolder("broken");
        string images = Path.Combine(folder, "images"), csv = Path.Combine(folder, "predictions.csv");
        for (int k = 0; k < 2; k++) CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv, "--shard", $"{k}/2");
        string part0 = Shard.PartPath(csv, 0, 2), part1 = Shard.PartPath(csv, 1, 2);
        string keep0 = File.ReadAllText(part0), keep1 = File.ReadAllText(part1);

        (int Code, string Output) Merge()
        {
            var result = CliTool.Run("merge", "--images", images, "--out", csv);
            if (result.Code != 0) Assert.IsFalse(File.Exists(csv), "no CSV when the parts are incomplete");
            return result;
        }

        // A part that never ran.
        File.Delete(part1);
        var (code, output) = Merge();
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "predictions.part-1-of-2.csv is missing");
        StringAssert.Contains(output, "shards to run again: 1");
        StringAssert.Contains(File.ReadAllText(csv + ".problems.txt"), "has no row (shard 1)");

        // A row in two parts.
        File.WriteAllText(part1, keep1 + keep0.Split('\n')[1] + "\n");
        (code, output) = Merge();
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "duplicated: '" + CliTool.Fields(keep0.Split('\n')[1])[0] + "' has rows in parts 0 and 1");

        // A task killed while writing: a torn last line, its image without a row.
        File.WriteAllText(part1, keep1[..^40]);
        (code, output) = Merge();
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "ends in a torn line");
        StringAssert.Contains(output, "shards to run again: 1");

        // Running the shard again repairs it; an image added since then is missing until its shard runs.
        CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv, "--shard", "1/2");
        File.Copy(Path.Combine(images, "Bag", "not-an-image.png"), Path.Combine(images, "Bag", "late.png"));
        int lateShard = Shard.Of("Bag/late.png", 2);
        (code, output) = Merge();
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, $"missing: 'Bag/late.png' has no row (shard {lateShard})");
        StringAssert.Contains(output, $"shards to run again: {lateShard}");
        (code, output) = CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv, "--shard", $"{lateShard}/2");
        StringAssert.Contains(output, "1 to score", "the other images stay in their parts");
        (code, output) = Merge();
        Assert.AreEqual(0, code, output);
        Assert.IsFalse(File.Exists(csv + ".problems.txt"), "the list of an earlier failed merge is removed");
        Assert.AreEqual(62, CliTool.RowsByPath(csv).Count);

        // The image is removed again: the merged CSV no longer matches the parts and is removed, not left as the answer.
        File.Delete(Path.Combine(images, "Bag", "late.png"));
        (code, output) = Merge();
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "not in the folder: 'Bag/late.png'");
        StringAssert.Contains(output, "removed the earlier");
    }

    [TestMethod]
    public void PartsOfAnotherModelAreRefusedAndOutputFoldersAreCreated()
    {
        string folder = NewFolder("models");
        string images = Path.Combine(folder, "images");
        // An --out in a folder that does not exist yet, and without an extension.
        string csv = Path.Combine(folder, "results", "nested", "predictions");
        for (int k = 0; k < 2; k++)
            Assert.AreNotEqual(255, CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv, "--shard", $"{k}/2").Code);
        Assert.IsTrue(File.Exists(Shard.PartPath(csv, 1, 2)), "the part is written in the new folder");
        StringAssert.EndsWith(Shard.PartPath(csv, 1, 2), "predictions.part-1-of-2");
        var (code, output) = CliTool.Run("merge", "--images", images, "--out", csv);
        Assert.AreEqual(0, code, output);

        // Part 1 as if scored by another model of the same classes (its .model file names another digest).
        string part1 = Shard.PartPath(csv, 1, 2);
        File.WriteAllText(part1 + ".model", new string('a', 64) + "\n");
        (code, output) = CliTool.Run("merge", "--images", images, "--out", csv);
        Assert.AreEqual(1, code, output);
        StringAssert.Contains(output, "was written by another model than part 0");
        StringAssert.Contains(output, "delete it and run shard 1 again");
        Assert.IsFalse(output.Contains("shards to run again: 1"), "running it again as it is would be refused: it must be deleted first");
        // Resuming that part with this model is refused too, instead of mixing two models' rows in one file.
        (code, output) = CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv, "--shard", "1/2");
        Assert.AreEqual(255, code, output);
        StringAssert.Contains(output, "was written with another model");
        File.Delete(part1);
        File.Delete(part1 + ".model");
        CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv, "--shard", "1/2");
        (code, output) = CliTool.Run("merge", "--images", images, "--out", csv);
        Assert.AreEqual(0, code, output);
        Assert.AreEqual(PredictionsCsvDigest(CliTool.Model), File.ReadAllText(csv + ".model").Trim(), "the merged CSV names its model");

        // --shard none: every image, even inside a Slurm array task.
        (code, output) = CliTool.Run(new[] { "score", "--model", CliTool.Model, "--images", images, "--out", Path.Combine(folder, "all.csv"), "--shard", "none" },
            new Dictionary<string, string?> { ["SLURM_ARRAY_TASK_ID"] = "1", ["SLURM_ARRAY_TASK_COUNT"] = "2" });
        StringAssert.Contains(output, "61 to score");
    }

    static string PredictionsCsvDigest(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream)).ToLowerInvariant();
    }
}
