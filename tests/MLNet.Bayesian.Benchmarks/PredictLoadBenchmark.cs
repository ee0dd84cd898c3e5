using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using MLNet.Bayesian.Data;
using static System.FormattableString;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// <c>POST /predict</c> of a running review server (the CLI's <c>review</c>) under steady load: what a caller sees
/// (requests per second, latency percentiles, every answer that is not 200) and, given the server's process id, whether
/// its memory stays flat over two identical timed passes. The in-memory figures of <see cref="ServingBenchmark"/> leave
/// out what a web caller pays: the HTTP round trip, decoding the image and waiting for one of the pooled engines.
/// Closed loop: each client sends its next image only when the previous answer is in, so the server is measured at its
/// own pace rather than against a queue that grows without bound.
/// </summary>
internal static class PredictLoadBenchmark
{
    /// <summary>The requests each client sends before the timed passes: the first ones pay for connections and the engines' caches.</summary>
    const int WarmupPerClient = 2;

    public sealed record Memory(double ResidentMiB, double PeakResidentMiB);

    public sealed record Pass(int Number, int Requests, double Seconds, double RequestsPerSecond, double P50Ms, double P90Ms, double P99Ms, double MaxMs,
        IReadOnlyDictionary<string, int> Answers, Memory? ServerAfter);

    public static int Run(string url, string images, int clients, double seconds, int passes, int? serverPid, string? outDir)
        => RunAsync(url, images, clients, seconds, passes, serverPid, outDir).GetAwaiter().GetResult();

    static async Task<int> RunAsync(string url, string images, int clients, double seconds, int passes, int? serverPid, string? outDir)
    {
        if (clients < 1) throw new ArgumentException($"--clients must be at least 1, not {clients}.");
        if (!(seconds > 0)) throw new ArgumentException($"--seconds must be positive, not {seconds.ToString(CultureInfo.InvariantCulture)}.");
        if (passes < 1) throw new ArgumentException($"--passes must be at least 1, not {passes}.");
        var root = new Uri(url.EndsWith('/') || url.Contains('?') ? url : url + "/", UriKind.Absolute);
        var predict = new Uri(root, "predict");
        // The URL that 'review' prints carries its token when it has one: sent as the bearer header the server takes.
        string? token = System.Web.HttpUtility.ParseQueryString(root.Query)["token"];

        // Read once: the figures are the server's, not this machine's disk.
        var bodies = ImageFolder.ListImageFiles(images).Select(f => (Name: f, Bytes: File.ReadAllBytes(f))).ToArray();
        if (bodies.Length == 0) throw new ArgumentException($"--images '{images}' holds no image file (png, jpg, jpeg, bmp, gif, webp).");

        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
        {
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var before = serverPid is int pid ? ReadMemory(pid) : null;
        int next = 0;
        // One request: its status as a key ("200", "400", or the exception's type when no answer came) and its time.
        async Task<(string Answer, double Ms, string? Body)> Send()
        {
            var (name, bytes) = bodies[(int)((uint)Interlocked.Increment(ref next) % bodies.Length)];
            using var content = new ByteArrayContent(bytes);
            // The server reads the format from the bytes, whatever the type says.
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            long start = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.PostAsync(predict, content);
                string body = await response.Content.ReadAsStringAsync();
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                // A 200 that is not the scored row would pass unnoticed in the rate: counted apart, as a failure.
                if (response.StatusCode == HttpStatusCode.OK)
                    return body.Contains("\"predicted_label\"", StringComparison.Ordinal) ? ("200", ms, null) : ("200 without predicted_label", ms, $"{name}: {Shorten(body)}");
                return (((int)response.StatusCode).ToString(CultureInfo.InvariantCulture), ms, $"{name}: {Shorten(body)}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return (e.GetType().Name, Stopwatch.GetElapsedTime(start).TotalMilliseconds, $"{name}: {e.Message}");
            }
        }

        // A server that answers the warm-up with errors would make the timed figures meaningless: stop here and say why.
        var warmup = await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            var answers = new List<(string Answer, double Ms, string? Body)>();
            for (int i = 0; i < WarmupPerClient; i++) answers.Add(await Send());
            return answers;
        }));
        if (warmup.SelectMany(a => a).FirstOrDefault(a => a.Answer != "200") is { Body: not null } failed)
        {
            Console.Error.WriteLine($"predict-load: the warm-up got {failed.Answer} from {predict}: {failed.Body}");
            return 1;
        }

        var results = new List<Pass>();
        var errors = new List<string>();
        for (int number = 1; number <= passes; number++)
        {
            var clock = Stopwatch.StartNew();
            var perClient = await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
            {
                var answers = new List<(string Answer, double Ms, string? Body)>();
                while (clock.Elapsed.TotalSeconds < seconds) answers.Add(await Send());
                return answers;
            }));
            // The pass lasts until its last answer: the requests in flight at the deadline are counted, and their time with them.
            double elapsed = clock.Elapsed.TotalSeconds;
            var all = perClient.SelectMany(a => a).ToList();
            errors.AddRange(all.Where(a => a.Body is not null).Select(a => $"pass {number}: {a.Answer} {a.Body}"));
            var ms = all.Select(a => a.Ms).Order().ToArray();
            results.Add(new Pass(number, all.Count, elapsed, all.Count / elapsed, Percentile(ms, 0.50), Percentile(ms, 0.90), Percentile(ms, 0.99), ms[^1],
                all.GroupBy(a => a.Answer).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
                serverPid is int p ? ReadMemory(p) : null));
        }

        int failures = results.Sum(r => r.Answers.Where(a => a.Key != "200").Sum(a => a.Value));
        var lines = Report(predict, bodies.Length, clients, seconds, serverPid, before, results, failures);
        if (outDir is not null)
        {
            Directory.CreateDirectory(outDir);
            File.WriteAllLines(Path.Combine(outDir, "predict-load.md"), lines);
            File.WriteAllText(Path.Combine(outDir, "predict-load.json"), JsonSerializer.Serialize(new
            {
                date = DateTime.UtcNow, url = predict.ToString(), images = bodies.Length, clients, seconds, warmupPerClient = WarmupPerClient,
                serverPid, serverBefore = before, passes = results, failures, firstErrors = errors.Take(20),
            }, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
        }
        lines.ForEach(Console.WriteLine);
        foreach (string error in errors.Take(10)) Console.Error.WriteLine($"predict-load: {error}");
        string memory = before is null ? "" : Invariant($"; server RSS {before.ResidentMiB:F0} MiB before the warm-up -> ") +
            string.Join(" -> ", results.Select(r => Invariant($"{r.ServerAfter!.ResidentMiB:F0}"))) + Invariant($" MiB after each pass, peak {results[^1].ServerAfter!.PeakResidentMiB:F0} MiB");
        Console.WriteLine(Invariant($"predict-load: {clients} clients, {passes} x {seconds:F0} s on {bodies.Length} images: ") +
            string.Join("; ", results.Select(r => Invariant($"pass {r.Number} {r.Requests} requests, {r.RequestsPerSecond:F1}/s, p50 {r.P50Ms:F1} ms, p99 {r.P99Ms:F1} ms"))) +
            memory + (failures == 0 ? "; every answer 200" : $"; {failures} answers not 200 (" +
                string.Join(", ", results.SelectMany(r => r.Answers).Where(a => a.Key != "200").GroupBy(a => a.Key).Select(g => $"{g.Key}: {g.Sum(a => a.Value)}")) + ")"));
        return failures == 0 ? 0 : 1;
    }

    static List<string> Report(Uri predict, int images, int clients, double seconds, int? serverPid, Memory? before, List<Pass> passes, int failures)
    {
        var lines = new List<string>
        {
            Invariant($"POST {predict}: {clients} clients, each sending its next image when the previous answer is in, {WarmupPerClient} warm-up requests each (not counted), ") +
            Invariant($"then {passes.Count} timed passes of {seconds:F0} s; {images} image files cycled, sent as the raw body; this machine {Environment.ProcessorCount} cores, client and server on it."),
            "",
            "| pass | requests | seconds | requests/s | p50 ms | p90 ms | p99 ms | max ms | answers | server RSS MiB after | server peak RSS MiB |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        };
        lines.AddRange(passes.Select(p => Invariant($"| {p.Number} | {p.Requests} | {p.Seconds:F1} | {p.RequestsPerSecond:F1} | {p.P50Ms:F1} | {p.P90Ms:F1} | {p.P99Ms:F1} | {p.MaxMs:F1} | ") +
            string.Join(", ", p.Answers.Select(a => $"{a.Key}: {a.Value}")) +
            (p.ServerAfter is { } m ? Invariant($" | {m.ResidentMiB:F1} | {m.PeakResidentMiB:F1} |") : " | | |")));
        lines.Add("");
        if (before is not null)
            lines.Add(Invariant($"Server (pid {serverPid}) before the warm-up: RSS {before.ResidentMiB:F1} MiB, peak {before.PeakResidentMiB:F1} MiB (VmRSS, VmHWM of /proc/{serverPid}/status)."));
        lines.Add(failures == 0 ? "Every answer was 200." : $"{failures} answers were not 200: the run failed.");
        return lines;
    }

    /// <summary>Nearest rank: a latency some request actually took.</summary>
    static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>VmRSS and VmHWM (kB) of a process, in MiB: the kernel's count, which sees LibTorch's and ONNX Runtime's native memory as well as the managed heap.</summary>
    static Memory ReadMemory(int pid)
    {
        string file = $"/proc/{pid}/status";
        if (!File.Exists(file)) throw new InvalidOperationException($"--server-pid {pid}: {file} does not exist (no such process, or not Linux).");
        var fields = File.ReadLines(file).Select(l => l.Split(':', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1].Trim());
        double MiB(string key) => fields.TryGetValue(key, out string? v) && v.EndsWith(" kB", StringComparison.Ordinal)
            ? double.Parse(v[..^3], CultureInfo.InvariantCulture) / 1024
            : throw new InvalidOperationException($"{file} has no {key} line in kB.");
        return new Memory(MiB("VmRSS"), MiB("VmHWM"));
    }

    static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "...";
}
