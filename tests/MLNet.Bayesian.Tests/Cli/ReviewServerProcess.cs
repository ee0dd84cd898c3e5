using System.Diagnostics;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// <c>mlnet-bayesian review</c> running as its own process on a free loopback port (<c>--port 0</c>), as a user starts
/// it; <see cref="Url"/> is read from the line it prints. Disposing kills it, as a closed terminal or an OOM kill would:
/// the tests rely on nothing being written at shutdown.
/// </summary>
internal sealed class ReviewServerProcess : IDisposable
{
    readonly Process _process;
    readonly System.Text.StringBuilder _output = new();

    public ReviewServerProcess(string model, string predictions, string images, params string[] extra)
        : this(new[] { "review", "--model", model, "--predictions", predictions, "--images", images, "--port", "0" }.Concat(extra).ToArray(), environment: null) { }

    public ReviewServerProcess(string[] args, IDictionary<string, string?>? environment, string? workingDirectory = null)
    {
        _process = CliTool.Start(args, environment, workingDirectory);
        var url = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) { url.TrySetException(new InvalidOperationException("the review server stopped:\n" + Output)); return; }
            lock (_output) _output.AppendLine(e.Data);
            if (e.Data.StartsWith("review: http", StringComparison.Ordinal)) url.TrySetResult(e.Data["review: ".Length..].Trim());
        };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!url.Task.Wait(TimeSpan.FromSeconds(120))) { Dispose(); Assert.Fail("the review server printed no URL in 120 s:\n" + Output); }
        Url = url.Task.Result;
        BaseUrl = new Uri(Url).GetLeftPart(UriPartial.Authority) + "/";
    }

    /// <summary>The URL it printed (with <c>?token=</c> when it has one).</summary>
    public string Url { get; }

    /// <summary>Scheme, host and port, ending in '/'.</summary>
    public string BaseUrl { get; }

    /// <summary>What it printed so far.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(30_000);
        _process.Dispose();
    }
}
