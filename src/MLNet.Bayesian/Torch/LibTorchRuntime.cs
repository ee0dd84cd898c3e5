using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Where LibTorch comes from. By default, from the native package beside the application (libtorch-cpu-*,
/// TorchSharp-cuda-*), which TorchSharp loads by itself. An application built with <c>-p:TorchBackend=system</c>
/// (the AppContext switch <see cref="Switch"/> = "system") carries no LibTorch: it takes the one in the folder that
/// <see cref="FolderVariable"/> names, else the <c>torch/lib</c> folder of the PyTorch that <c>python3</c> imports.
/// That is how GPUs are reached where the CUDA packages cannot be restored: a PyTorch with CUDA is already there.
/// The libraries are loaded by path before TorchSharp initialises; TorchSharp's loader then asks for them by name and
/// the dynamic loader hands back the ones already loaded. <see cref="FolderVariable"/> also overrides a packaged LibTorch.
/// </summary>
public static class LibTorchRuntime
{
    /// <summary>Environment variable: a folder holding libtorch_cpu (and libtorch_cuda) to load instead of looking for PyTorch.</summary>
    public const string FolderVariable = "MLNET_BAYESIAN_LIBTORCH";
    /// <summary>Environment variable: the Python to ask for its PyTorch (default python3 on the PATH).</summary>
    public const string PythonVariable = "MLNET_BAYESIAN_PYTHON";
    /// <summary>The AppContext switch that <c>-p:TorchBackend=system</c> sets in the application's runtimeconfig.json.</summary>
    public const string Switch = "MLNet.Bayesian.TorchBackend";

    static readonly object Gate = new();
    static string? _description;

    /// <summary>Which LibTorch this process uses (path and version when known) and its thread count; loads it first if this process takes it from the system.</summary>
    public static string Description => EnsureLoaded();

    /// <summary>
    /// Loads the machine's LibTorch when the application asks for it (see the class summary); does nothing for an
    /// application that carries its own. Safe to call often: the work happens once. Throws
    /// <see cref="InvalidOperationException"/> with both ways to fix it when no usable LibTorch is found.
    /// </summary>
    public static string EnsureLoaded()
    {
        lock (Gate)
        {
            // The thread count is set once the library is loaded, before any kernel runs (see IntraOpThreads); then the
            // oneDNN check, whose probe is the first kernel this process runs (see OneDnnConvolutionCheck).
            return _description ??= $"{Load()}; {IntraOpThreads.Apply()}; {OneDnnConvolutionCheck.Apply()}";
        }
    }

    static string Load()
    {
        string? folder = Environment.GetEnvironmentVariable(FolderVariable);
        bool system = string.Equals(AppContext.GetData(Switch) as string, "system", StringComparison.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(folder) && !system)
            return "LibTorch from the application's native package (loaded by TorchSharp)";

        string source;
        string? version;
        if (!string.IsNullOrWhiteSpace(folder))
        {
            source = $"{FolderVariable}";
            version = VersionBeside(folder);
        }
        else
        {
            (folder, version, source) = AskPython();
        }
        folder = Path.GetFullPath(folder);
        // The version first: an old PyTorch (Debian's 1.13) may keep its libraries elsewhere, and "holds no libtorch_cpu"
        // would hide that the version is what is wrong.
        CheckVersion(version, folder, source);
        string cpu = Path.Combine(folder, LibraryName("torch_cpu"));
        if (!File.Exists(cpu))
            throw Missing($"'{folder}' (from {source}) holds no {LibraryName("torch_cpu")}.");

        // Load order: the CPU library, then the CUDA ones when present, then libtorch, which needs them all.
        bool withCuda = false;
        foreach (string name in new[] { "c10", "torch_cpu", "c10_cuda", "torch_cuda", "torch" })
        {
            string path = Path.Combine(folder, LibraryName(name));
            if (!File.Exists(path)) continue;
            try { NativeLibrary.Load(path); }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                throw Missing($"'{path}' (from {source}) could not be loaded: {e.Message}", e);
            }
            withCuda |= name == "torch_cuda";
        }
        return $"LibTorch {version ?? "(version unknown)"} from {folder} ({source}; {(withCuda ? "with CUDA" : "CPU only")})";
    }

    /// <summary>The PyTorch install of the configured Python: its torch/lib folder and version.</summary>
    static (string Folder, string? Version, string Source) AskPython()
    {
        string python = Environment.GetEnvironmentVariable(PythonVariable) is { Length: > 0 } p ? p : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-c", "import os, torch; print(os.path.dirname(torch.__file__)); print(torch.__version__)" }) start.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException($"'{python}' did not start."); }
        catch (System.ComponentModel.Win32Exception e) { throw Missing($"'{python}' could not be started ({e.Message}).", e); }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            string error = process.StandardError.ReadToEnd();
            if (!process.WaitForExit(120_000)) { process.Kill(); throw Missing($"'{python}' did not answer within two minutes."); }
            var lines = output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (process.ExitCode != 0 || lines.Length < 2)
                throw Missing($"'{python} -c \"import torch\"' failed: {error.Trim().Split('\n').LastOrDefault()?.Trim() ?? $"exit code {process.ExitCode}"}.");
            return (Path.Combine(lines[0], "lib"), lines[1], $"the PyTorch of {python}");
        }
    }

    /// <summary>The version of a PyTorch install from torch/version.py beside its lib folder, when present.</summary>
    static string? VersionBeside(string libFolder)
    {
        string file = Path.Combine(libFolder, "..", "version.py");
        if (!File.Exists(file)) return null;
        var match = Regex.Match(File.ReadAllText(file), @"__version__\s*=\s*['""]([^'""]+)['""]");
        return match.Success ? match.Groups[1].Value : null;
    }

    /// <summary>
    /// TorchSharp 0.107 is built for LibTorch 2.10: an older LibTorch lacks symbols it calls (a crash at the first call,
    /// or a failed load), so it is refused with both versions named.
    /// </summary>
    internal static void CheckVersion(string? version, string folder, string source)
    {
        if (version is null) return;
        var match = Regex.Match(version, @"^(\d+)\.(\d+)");
        if (!match.Success) return;
        var found = new Version(int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
        if (found < Required)
            throw Missing($"'{folder}' (from {source}) is LibTorch {version}, and this TorchSharp ({typeof(TorchSharp.torch).Assembly.GetName().Version}) " +
                          $"needs LibTorch {Required} or newer.");
    }

    static readonly Version Required = new(2, 10);

    static string LibraryName(string name)
        => OperatingSystem.IsWindows() ? $"{name}.dll" : OperatingSystem.IsMacOS() ? $"lib{name}.dylib" : $"lib{name}.so";

    static InvalidOperationException Missing(string what, Exception? inner = null)
        => new($"This application takes LibTorch from the machine (built with -p:TorchBackend=system, or {FolderVariable} is set), but {what} " +
               $"Either install PyTorch for the Python on the PATH (pip install torch, a CUDA build for a GPU; {PythonVariable} picks another " +
               $"Python), or set {FolderVariable} to a folder that holds {LibraryName("torch_cpu")} (and {LibraryName("torch_cuda")} for a GPU), " +
               "such as the torch/lib folder of a PyTorch install.", inner);
}
