using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using MLNet.Bayesian.Cli.Sharding;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// Batch scoring as a Slurm array job on a one-node cluster that the test brings up (eng/slurm/start-test-cluster.sh)
/// and stops: four tasks, one of them killed mid-run, eng/slurm/score-array.sh submitting it again and merging. Skipped,
/// with the reason, where Slurm is not installed or cannot start (CI installs slurm-wlm and munge).
/// </summary>
[TestClass]
public sealed class SlurmArrayJobTests
{
    static string Repository => typeof(SlurmArrayJobTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;

    static (int Code, string Output) Bash(string script, IDictionary<string, string>? environment, params string[] args)
        => Run("bash", environment ?? new Dictionary<string, string>(), args.Prepend(Path.Combine(Repository, script)).ToArray());

    static int LinesIn(string file)
    {
        if (!File.Exists(file)) return 0;
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        int lines = 0;
        for (int b = stream.ReadByte(); b >= 0; b = stream.ReadByte()) if (b == '\n') lines++;
        return lines;
    }

    [TestMethod]
    [TestCategory("Slurm")]
    public void AFourTaskArrayJobWithOneTaskKilledAndResubmittedEqualsOneProcess()
    {
        foreach (string tool in new[] { "sbatch", "scancel", "slurmctld", "slurmd", "munged" })
            if (!new[] { "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin" }.Any(d => File.Exists(Path.Combine(d, tool))))
                Assert.Inconclusive($"Slurm is not installed here ('{tool}' is missing): apt-get install slurm-wlm munge, as eng/install-prerequisites.sh does.");

        string folder = TestData.TempFolder();
        string cluster = Path.Combine(folder, "cluster");
        var (started, log) = Bash("eng/slurm/start-test-cluster.sh", null, cluster, "4");
        Process? array = null;
        try
        {
            if (started != 0) Assert.Inconclusive($"the one-node Slurm cluster did not start (exit {started}):\n{log}");
            var slurm = new Dictionary<string, string> { ["SLURM_CONF"] = Path.Combine(cluster, "slurm.conf") };

            // The committed test images (1,000) and a file that is not an image: every input gets a row or an error row.
            string images = Path.Combine(folder, "images");
            ImageFolder.Write(TestData.Test, images);
            File.WriteAllText(Path.Combine(images, "Bag", "not-an-image.png"), "this is text");
            string single = Path.Combine(folder, "single.csv");
            Assert.AreEqual(1, CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", single).Code);

            string output = Path.Combine(folder, "array", "predictions.csv");
            string part2 = Shard.PartPath(output, 2, 4);
            int shard2Images = ImageFolder.ListImageFiles(images).Count(f => Shard.Of(Path.GetRelativePath(images, f), 4) == 2);
            var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in new[] { Path.Combine(Repository, "eng/slurm/score-array.sh"), "--model", CliTool.Model, "--images", images, "--out", output,
                         "--tasks", "4", "--retries", "1", "--cli", $"dotnet {CliTool.Dll}", "--", "--batch", "1" })
                start.ArgumentList.Add(a);
            start.Environment["SLURM_CONF"] = slurm["SLURM_CONF"];
            array = Process.Start(start)!;
            var lines = new List<string>();
            string? jobId = null;
            array.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (lines) lines.Add(e.Data);
                var match = Regex.Match(e.Data, @"^submitted array job (\d+) \(tasks 0-3");
                if (match.Success) jobId = match.Groups[1].Value;
            };
            array.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
            array.BeginOutputReadLine();
            array.BeginErrorReadLine();

            // Kill task 2 once it has written a few rows: SIGKILL to the scorer, mid-run and possibly mid-write.
            var clock = Stopwatch.StartNew();
            while (LinesIn(part2) < 4 && !array.HasExited && clock.Elapsed < TimeSpan.FromSeconds(90)) Thread.Sleep(20);
            Assert.IsNotNull(jobId, $"score-array.sh printed the job id:\n{string.Join("\n", lines)}");
            var (cancelled, cancelLog) = Run("scancel", slurm, "--signal=KILL", "--batch", $"{jobId}_2");
            Assert.AreEqual(0, cancelled, cancelLog);
            Thread.Sleep(1000);
            int rowsWhenKilled = LinesIn(part2) - 1;
            Assert.IsTrue(rowsWhenKilled < shard2Images, $"task 2 was killed mid-run ({rowsWhenKilled} of its {shard2Images} rows written)");

            Assert.IsTrue(array.WaitForExit(240_000), "the array job and its resubmission finished");
            array.WaitForExit();
            string log2 = string.Join("\n", lines);
            Console.WriteLine(log2);
            Assert.AreEqual(0, array.ExitCode, log2);
            StringAssert.Contains(log2, "shards to run again: 2");
            StringAssert.Contains(log2, "running again: shards 2");
            StringAssert.Contains(log2, "1001 images, one row each from 4 parts (1 error rows)");

            // The same rows as one process: no row lost or duplicated, scores equal to 1e-6.
            ShardedScoringTests.AssertSameRows(single, output, 1e-6);
        }
        finally
        {
            if (array is { HasExited: false }) array.Kill(entireProcessTree: true);
            array?.Dispose();
            Bash("eng/slurm/stop-test-cluster.sh", null, cluster);
            foreach (string pidFile in new[] { "slurmd.pid", "slurmctld.pid", Path.Combine("munge", "munged.pid") }.Select(p => Path.Combine(cluster, p)).Where(File.Exists))
            {
                string comm = $"/proc/{File.ReadAllText(pidFile).Trim()}/comm";
                Assert.IsFalse(File.Exists(comm) && File.ReadAllText(comm).Trim() is "slurmd" or "slurmctld" or "munged", $"the daemon of {pidFile} has stopped");
            }
        }
    }

    static (int Code, string Output) Run(string tool, IDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.IsTrue(process.WaitForExit(120_000), $"{tool} {string.Join(" ", args)} finished");
        return (process.ExitCode, stdout.Result + stderr);
    }
}
