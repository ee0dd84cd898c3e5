using System.Diagnostics;

namespace MLNet.Bayesian.Tests.Onnx;

/// <summary>
/// The ONNX project's own checker (Debian's python3-onnx: <c>onnx.checker.check_model(model, full_check=True)</c>, which
/// also runs strict shape inference) over an exported graph: what other engines than ONNX Runtime rely on.
/// </summary>
internal static class OnnxChecker
{
    const string Script = "import onnx, sys\n" +
        "m = onnx.load(sys.argv[1])\n" +
        "onnx.checker.check_model(m, full_check=True)\n" +
        "print('onnx', onnx.__version__, 'ir', m.ir_version, 'opsets', ','.join(f'{o.domain or \"ai.onnx\"}:{o.version}' for o in m.opset_import))\n";

    /// <summary>Checks the graph in <paramref name="onnx"/>; fails with the checker's message.</summary>
    public static void AssertValid(byte[] onnx, string what)
    {
        var (valid, output) = Check(onnx);
        Console.WriteLine($"{what}: {output.Trim()}");
        Assert.IsTrue(valid, $"{what}: onnx.checker.check_model(full_check=True) refused the graph:\n{output}");
    }

    /// <summary>Checks the ONNX file at <paramref name="path"/>.</summary>
    public static void AssertValid(string path, string what)
    {
        var (valid, output) = Check(path);
        Console.WriteLine($"{what}: {output.Trim()}");
        Assert.IsTrue(valid, $"{what}: onnx.checker.check_model(full_check=True) refused the graph:\n{output}");
    }

    /// <summary>Runs the checker over <paramref name="onnx"/>: whether it passed, and what it printed.</summary>
    public static (bool Valid, string Output) Check(byte[] onnx)
    {
        string path = Path.Combine(TestData.TempFolder(), "checked.onnx");
        File.WriteAllBytes(path, onnx);
        return Check(path);
    }

    static (bool Valid, string Output) Check(string path)
    {
        // Debian's python3 first: a python3 earlier on PATH (pyenv, a virtual environment) may lack the onnx module.
        ProcessStartInfo start = null!;
        (int code, string output) = (-1, "");
        foreach (string python in new[] { "/usr/bin/python3", "python3" })
        {
            start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("import onnx");
            (code, output) = Run(start);
            if (code == 0) break;
        }
        if (code != 0)
        {
            string message = "the ONNX checker needs python3 with the onnx module (apt-get install python3-onnx, as eng/install-prerequisites.sh does): " + output;
            if (Environment.GetEnvironmentVariable("CI") is not null) Assert.Fail(message);
            Assert.Inconclusive(message);
        }
        start.ArgumentList.Clear();
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(path);
        (code, output) = Run(start);
        return (code == 0, output);
    }

    static (int, string) Run(ProcessStartInfo start)
    {
        try
        {
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"python3 could not be started: {e.Message}");
        }
    }
}
