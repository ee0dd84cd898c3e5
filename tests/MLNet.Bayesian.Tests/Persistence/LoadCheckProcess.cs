using System.Diagnostics;
using System.Reflection;

namespace MLNet.Bayesian.Tests.Persistence;

/// <summary>
/// MLNet.Bayesian.LoadCheck as a separate process: it loads a saved zip with nothing of this test process and writes one
/// CSV line per image (label, confidence, the three entropies, the probabilities).
/// </summary>
internal static class LoadCheckProcess
{
    /// <summary>Scores <paramref name="folder"/> (class sub-folders) with <paramref name="zip"/> in a new process; returns its exit code, output and CSV file.</summary>
    public static (int Code, string Stdout, string Stderr, string Csv) Run(string zip, string folder, params string[] extra)
    {
        string directory = typeof(LoadCheckProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "LoadCheckDirectory").Value!;
        string tool = Path.Combine(directory, "MLNet.Bayesian.LoadCheck.dll");
        Assert.IsTrue(File.Exists(tool), $"the load-check program was built at {tool}");
        string csv = Path.Combine(TestData.TempFolder(), "scores.csv");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { tool, zip, folder, csv }.Concat(extra)) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdoutTask = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        Assert.IsTrue(process.WaitForExit(300_000), "the other process finished");
        return (process.ExitCode, stdoutTask.Result, stderr, csv);
    }
}
