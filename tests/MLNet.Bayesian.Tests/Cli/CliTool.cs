using System.Diagnostics;
using System.Reflection;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// The command-line tool as the CLI tests run it: a separate process, and one small model trained with it once per test
/// run (shared by the test classes, so that each does not pay for its own training).
/// </summary>
internal static class CliTool
{
    static readonly Lazy<(string Root, string Zip)> Trained = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding the training images, the model and what the tests write.</summary>
    public static string Root => Trained.Value.Root;

    /// <summary>A model trained with <c>train</c> on 300 images (2/1/1 epochs, S = 4), with a stored review rule.</summary>
    public static string Model => Trained.Value.Zip;

    /// <summary>The path of the built CLI (MLNet.Bayesian.Cli.dll).</summary>
    public static string Dll
    {
        get
        {
            string directory = typeof(CliTool).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "CliDirectory").Value!;
            string tool = Path.Combine(directory, "MLNet.Bayesian.Cli.dll");
            Assert.IsTrue(File.Exists(tool), $"the CLI was built at {tool}");
            return tool;
        }
    }

    static (string, string) Train()
    {
        string root = TestData.TempFolder();
        ImageFolder.Write(TestData.Train.StratifiedHead(30), Path.Combine(root, "train"));
        ImageFolder.Write(TestData.Test.StratifiedHead(5), Path.Combine(root, "test"));
        var digits = DigitsCsvReader.ReadResized(TestData.DigitsCsv, 28);
        ImageFolder.Write(digits.StratifiedHead(3), Path.Combine(root, "ood"));
        string zip = Path.Combine(root, "model.zip");
        var (code, output) = Run("train", "--data", Path.Combine(root, "train"), "--out", zip, "--epochs", "2,1,1", "--samples", "4", "--kl-weight", "0.1");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "validation accuracy");
        StringAssert.Contains(output, "review rule");
        // Output into a file: plain progress lines from the first batch on, one per tenth of the run, never a redrawn bar.
        var progress = output.Split('\n').Where(l => l.StartsWith("training ") && l.Contains(" elapsed, about ")).ToList();
        StringAssert.StartsWith(progress.FirstOrDefault() ?? "", "training ", output);
        StringAssert.Contains(progress[0], "batch 1/", "the first line comes after the first batch");
        Assert.IsTrue(progress.Count is >= 5 and <= 12, $"a line per tenth: {progress.Count}\n{output}");
        Assert.AreEqual(progress.Count, progress.Distinct().Count(), "no line twice");
        Assert.IsFalse(output.Contains("scored the "), "the validation images are not scored a second time after training");
        // The prediction sets are calibrated on validation images that tuned nothing else (issue 33).
        var calibrated = System.Text.RegularExpressions.Regex.Match(output, @"calibrated on (\d+) validation images; on the other (\d+) \(not used to calibrate them\)");
        Assert.IsTrue(calibrated.Success, output);
        int calibrationImages = int.Parse(calibrated.Groups[1].Value), tuningImages = int.Parse(calibrated.Groups[2].Value);
        Assert.IsTrue(calibrationImages >= 5 && tuningImages >= 5 && calibrationImages + tuningImages <= 60,
            $"the 10% validation split of 300 images is shared between calibration ({calibrationImages}) and tuning ({tuningImages})");
        StringAssert.Contains(output, "saved ");
        Assert.IsTrue(File.Exists(zip));
        return (root, zip);
    }

    /// <summary>Starts the CLI with <paramref name="args"/>; the caller reads its output and waits.</summary>
    public static Process Start(params string[] args) => Start(args, environment: null);

    /// <summary>Starts the CLI with extra environment variables (null values remove a variable).</summary>
    public static Process Start(string[] args, IDictionary<string, string?>? environment) => Start(args, environment, workingDirectory: null);

    /// <summary>Starts the CLI in <paramref name="workingDirectory"/> (null: this process's).</summary>
    public static Process Start(string[] args, IDictionary<string, string?>? environment, string? workingDirectory)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        start.ArgumentList.Add(Dll);
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["COLUMNS"] = "200";
        // A test run inside a Slurm job must not see that job's array variables.
        foreach (string name in new[] { "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "JOB_COMPLETION_INDEX" })
            start.Environment.Remove(name);
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
            if (value is null) start.Environment.Remove(name); else start.Environment[name] = value;
        return Process.Start(start)!;
    }

    /// <summary>Runs the CLI to the end; its exit code and its output (stdout, then stderr).</summary>
    public static (int Code, string Output) Run(params string[] args) => Run(args, environment: null);

    /// <summary>Runs the CLI to the end with extra environment variables.</summary>
    public static (int Code, string Output) Run(string[] args, IDictionary<string, string?>? environment)
    {
        using var process = Start(args, environment);
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.IsTrue(process.WaitForExit(300_000), "the CLI finished");
        return (process.ExitCode, stdout.Result + stderr);
    }

    /// <summary>The fields of a CSV line (quoted fields may hold commas).</summary>
    public static List<string> Fields(string line) => MLNet.Bayesian.Cli.CsvFields.Split(line);

    /// <summary>The rows of a predictions CSV by path, after checking that each is whole and no path has two.</summary>
    public static Dictionary<string, string> RowsByPath(string csv)
    {
        var lines = File.ReadAllLines(csv);
        Assert.IsTrue(lines.Length > 1, "a header and rows");
        var rows = lines.Skip(1).ToList();
        int fields = Fields(lines[0]).Count;
        foreach (string row in rows) Assert.AreEqual(fields, Fields(row).Count, $"a whole row: {row}");
        Assert.AreEqual(rows.Count, rows.Select(r => Fields(r)[0]).Distinct().Count(), "no image has two rows");
        return rows.ToDictionary(r => Fields(r)[0]);
    }

    /// <summary>A folder of test images under <see cref="Root"/>, <paramref name="perClass"/> of each class (written once).</summary>
    public static string Incoming(string name, int perClass)
    {
        string images = Path.Combine(Root, name);
        if (!Directory.Exists(images)) ImageFolder.Write(TestData.Test.StratifiedHead(perClass), images);
        return images;
    }
}
