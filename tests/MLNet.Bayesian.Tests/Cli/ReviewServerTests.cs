using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// The review server over HTTP, as a browser or a script on the same machine would reach it, against the <c>review</c>
/// command running as its own process: which files it serves (rows, never paths; nothing outside the images folder,
/// links included), which hosts it answers, what <c>POST /predict</c> returns for good and bad images, and that the
/// decisions file is the only file it writes. One server for the class, started in a folder of its own with its own
/// temporary folder, over a copy of the scored images with files and links planted outside it.
/// </summary>
[TestClass]
public sealed class ReviewServerTests
{
    // Above every test image (28x28 PNGs, under 1 KB) and above ASP.NET Core's 64 KB spooling threshold for form files,
    // so that a larger form file would be spooled to disk if the server let it.
    const int MaxRequestBytes = 100_000;
    const string ReviewCommandTokenVariable = "MLNET_BAYESIAN_REVIEW_TOKEN";

    static string _root = "", _images = "", _csv = "", _work = "", _temp = "";
    static Dictionary<string, (long Length, DateTime Written)> _before = new();
    static ReviewServerProcess? _server;
    static HttpClient _http = null!;
    static string _seededPath = "";

    static ReviewServerProcess Server => _server ?? throw new InvalidOperationException("the server did not start");

    [ClassInitialize]
    public static void Start(TestContext _)
    {
        _root = TestData.TempFolder();
        _images = Path.Combine(_root, "images");
        ReviewData.CopyTree(ReviewData.Images, _images);
        File.Copy(FirstImage(ReviewData.Images), Path.Combine(_root, "secret.png"));
        string inside = FirstImage(_images);
        // Links: one to a file outside the folder, one to a folder outside it, one that stays inside.
        File.CreateSymbolicLink(Path.Combine(_images, "link-out.png"), Path.Combine(_root, "secret.png"));
        Directory.CreateSymbolicLink(Path.Combine(_images, "elsewhere"), _root);
        File.CreateSymbolicLink(Path.Combine(_images, "link-in.png"), Path.GetRelativePath(_images, inside));

        _csv = Path.Combine(_root, "scored", "predictions.csv");
        Directory.CreateDirectory(Path.GetDirectoryName(_csv)!);
        var lines = File.ReadAllLines(ReviewData.FreshCsv()).ToList();
        string template = lines[1];
        foreach (string planted in new[] { "../secret.png", Path.Combine(_root, "secret.png"), "link-out.png", "elsewhere/secret.png", "link-in.png" })
            lines.Add(WithPath(template, planted));
        File.WriteAllLines(_csv, lines);

        // A decisions file from a server killed mid-write: one whole decision, then half a line.
        _seededPath = CliTool.Fields(template)[0];
        File.WriteAllText(Path.ChangeExtension(_csv, null) + ".decisions.csv",
            "path,image,decision,label,predicted_label,flagged,reviewer,decided_at\n" +
            $"{MLNet.Bayesian.Cli.CsvFields.Quote(_seededPath)},{MLNet.Bayesian.Cli.CsvFields.Quote(Path.Combine(_images, _seededPath))},unknown,,{CliTool.Fields(template)[1]},true,earlier,2026-12-01T10:00:00.000Z\n" +
            $"{MLNet.Bayesian.Cli.CsvFields.Quote(_seededPath)},x,relab");

        _work = Directory.CreateDirectory(Path.Combine(_root, "work")).FullName;
        _temp = Directory.CreateDirectory(Path.Combine(_root, "tmp")).FullName;
        _before = Snapshot(_root);
        _server = new ReviewServerProcess(
            new[] { "review", "--model", ReviewData.Model, "--predictions", _csv, "--images", _images, "--port", "0", "--max-request-bytes", MaxRequestBytes.ToString() },
            new Dictionary<string, string?> { ["TMPDIR"] = _temp, ["ASPNETCORE_TEMP"] = _temp, [ReviewCommandTokenVariable] = null }, _work);
        _http = new HttpClient { BaseAddress = new Uri(_server.BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
    }

    [ClassCleanup]
    public static void Stop()
    {
        _http?.Dispose();
        _server?.Dispose();
    }

    [TestMethod]
    public void ImagesAreServedByRowAndNeverFromOutsideTheImagesFolder()
    {
        var ids = Items().ToDictionary(i => i.GetProperty("path").GetString()!, i => i.GetProperty("id").GetInt32());
        foreach (string outside in new[] { "../secret.png", Path.Combine(_root, "secret.png"), "link-out.png", "elsewhere/secret.png" })
        {
            using var response = _http.GetAsync($"api/items/{ids[outside]}/image").Result;
            Assert.AreEqual(HttpStatusCode.Forbidden, response.StatusCode, $"'{outside}' leads outside the images folder");
            StringAssert.Contains(response.Content.ReadAsStringAsync().Result, "outside the images folder", outside);
        }
        byte[] secret = File.ReadAllBytes(Path.Combine(_root, "secret.png"));
        using (var linked = _http.GetAsync($"api/items/{ids["link-in.png"]}/image").Result)
        {
            Assert.AreEqual(HttpStatusCode.OK, linked.StatusCode, "a link that stays inside the folder is followed");
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(_images, "link-in.png")), linked.Content.ReadAsByteArrayAsync().Result);
        }
        string path = ids.Keys.First(k => k.StartsWith("fashion/", StringComparison.Ordinal));
        using (var image = _http.GetAsync($"api/items/{ids[path]}/image").Result)
        {
            Assert.AreEqual(HttpStatusCode.OK, image.StatusCode);
            Assert.AreEqual("image/png", image.Content.Headers.ContentType?.MediaType);
            Assert.AreEqual("nosniff", string.Join("", image.Headers.GetValues("X-Content-Type-Options")));
            CollectionAssert.AreEqual(File.ReadAllBytes(Path.Combine(_images, path)), image.Content.ReadAsByteArrayAsync().Result);
        }

        // Paths in the URL reach nothing: raw requests, so that no client tidies the dots and escapes away first.
        foreach (string target in new[] { "/../../etc/passwd", "/../secret.png", "/api/items/..%2F..%2Fetc%2Fpasswd/image", "/api/items/0/..%2F..%2F..%2Fsecret.png",
                     "/api/items/%2e%2e/image", "/images/../secret.png", "/api/items/-1/image", $"/api/items/{ids.Count + 5}/image", "/secret.png" })
        {
            var (status, body) = Raw(target);
            Assert.AreEqual(404, status, $"GET {target}: {body}");
            Assert.IsFalse(body.Contains("root:") || body.Contains("PNG"), $"GET {target} sent a file: {body}");
        }
    }

    [TestMethod]
    public void OnlyLoopbackHostNamesAreAnswered()
    {
        int port = new Uri(Server.BaseUrl).Port;
        foreach (string host in new[] { $"127.0.0.1:{port}", $"localhost:{port}", "localhost" })
            Assert.AreEqual(200, Raw("/api/state", host).Status, host);
        // A page on another site whose name was pointed at 127.0.0.1 (DNS rebinding) sends its own name.
        foreach (string host in new[] { $"attacker.example:{port}", "attacker.example", $"127.0.0.1.attacker.example:{port}" })
        {
            var (status, body) = Raw("/api/state", host);
            Assert.AreEqual(400, status, host);
            StringAssert.Contains(body, "is not this loopback server's", host);
        }
    }

    [TestMethod]
    public void PredictReturnsTheRowTheScoreCommandWrote()
    {
        var header = CliTool.Fields(File.ReadLines(_csv).First());
        var rows = File.ReadLines(_csv).Skip(1).Select(CliTool.Fields).Where(f => f[0].StartsWith("fashion/") || f[0].StartsWith("digits/")).Take(3).ToList();
        Assert.AreEqual(3, rows.Count);
        foreach (var row in rows)
        {
            byte[] bytes = File.ReadAllBytes(Path.Combine(_images, row[0]));
            using var raw = new ByteArrayContent(bytes);
            raw.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "image", Path.GetFileName(row[0]) } };
            foreach (HttpContent body in new HttpContent[] { raw, form })
            {
                using var response = _http.PostAsync("predict", body).Result;
                string text = response.Content.ReadAsStringAsync().Result;
                Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, text);
                var json = JsonDocument.Parse(text).RootElement;
                string where = $"{row[0]} as {body.Headers.ContentType?.MediaType}";
                Assert.AreEqual(row[header.IndexOf("predicted_label")], json.GetProperty("predicted_label").GetString(), where);
                Assert.AreEqual(row[header.IndexOf("needs_review")], json.GetProperty("needs_review").GetBoolean() ? "true" : "false", where);
                foreach (string score in new[] { "confidence", "predictive_entropy", "mutual_information", "energy", "feature_distance" })
                    Assert.AreEqual(double.Parse(row[header.IndexOf(score)], System.Globalization.CultureInfo.InvariantCulture), json.GetProperty(score).GetDouble(), 1e-5, $"{where}: {score}");
                foreach (string name in header.Where(h => h.StartsWith("p_")))
                    Assert.AreEqual(double.Parse(row[header.IndexOf(name)], System.Globalization.CultureInfo.InvariantCulture), json.GetProperty("probabilities").GetProperty(name[2..]).GetDouble(), 1e-5, $"{where}: {name}");
                Assert.IsTrue(json.GetProperty("why").GetArrayLength() >= 1, "each score of the rule, with its threshold");
            }
        }
    }

    [TestMethod]
    public void PredictKeepsAnsweringAfterABurstLargerThanItsEnginePool()
    {
        // The server keeps one engine per processor; a burst makes more, which the pool disposes when they come back.
        byte[] png = File.ReadAllBytes(FirstImage(_images));
        async Task<string> Predict()
        {
            using var content = new ByteArrayContent(png);
            using var response = await _http.PostAsync("predict", content);
            string text = await response.Content.ReadAsStringAsync();
            return response.StatusCode == HttpStatusCode.OK ? JsonDocument.Parse(text).RootElement.GetProperty("predicted_label").GetString()! : $"{(int)response.StatusCode} {text}";
        }
        string expected = Predict().Result;
        int burst = 8 * Environment.ProcessorCount;
        for (int round = 1; round <= 3; round++)
        {
            // Sent at once, not one after another: the server then needs more engines than it keeps.
            var answers = Task.WhenAll(Enumerable.Range(0, burst).Select(_ => Predict())).Result;
            CollectionAssert.AreEqual(Enumerable.Repeat(expected, burst).ToList(), answers.ToList(), $"burst {round}");
            Assert.AreEqual(expected, Predict().Result, $"a single request after burst {round}");
        }
    }

    [TestMethod]
    public void BadRequestsGetAnErrorThatSaysWhat()
    {
        byte[] png = File.ReadAllBytes(FirstImage(_images));
        AssertProblem(Post("predict", new ByteArrayContent(Encoding.UTF8.GetBytes("this is not an image"))), 400, "POST /predict body");
        AssertProblem(Post("predict", new ByteArrayContent(png[..(png.Length / 2)])), 400, "POST /predict body");
        AssertProblem(Post("predict", new ByteArrayContent(Array.Empty<byte>())), 400, "holds no image");
        AssertProblem(Post("predict", new ByteArrayContent(new byte[MaxRequestBytes + 1])), 413, "--max-request-bytes");
        // Without a length (chunked), the limit holds while reading. A raw socket: HttpClient stops at the server's early
        // answer to a body it is still sending and reports the closed connection instead of the answer.
        var (status, body) = RawPost("/predict", new byte[MaxRequestBytes * 2]);
        Assert.AreEqual(413, status, body);
        StringAssert.Contains(body, "--max-request-bytes");

        // The last undecided row: the other tests decide the first ones.
        int id = Items().Last(i => i.GetProperty("decision").ValueKind == JsonValueKind.Null).GetProperty("id").GetInt32();
        AssertProblem(Post($"api/items/{id}/decision", Json(new { decision = "maybe" })), 400, "none of accept, relabel, unknown");
        AssertProblem(Post($"api/items/{id}/decision", Json(new { decision = "relabel", label = "not-a-class" })), 400, "not one of the model's classes");
        AssertProblem(Post($"api/items/{Items().Count + 100}/decision", Json(new { decision = "accept" })), 404, "no row");
        using (var malformed = _http.PostAsync($"api/items/{id}/decision", new StringContent("{decision:", Encoding.UTF8, "application/json")).Result)
            Assert.AreEqual(HttpStatusCode.BadRequest, malformed.StatusCode);
        Assert.AreEqual(JsonValueKind.Null, Item(id).GetProperty("decision").ValueKind, "no bad request left a decision");
    }

    [TestMethod]
    public void ATornLastLineIsCutAndTheWholeDecisionsBeforeItResume()
    {
        StringAssert.Contains(Server.Output, "cut a torn last line", "the server says what it cut");
        var seeded = Items().Single(i => i.GetProperty("path").GetString() == _seededPath);
        Assert.AreEqual("unknown", seeded.GetProperty("decision").GetProperty("decision").GetString());
        Assert.AreEqual("earlier", seeded.GetProperty("decision").GetProperty("reviewer").GetString());
        string file = Path.ChangeExtension(_csv, null) + ".decisions.csv";
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        string text = new StreamReader(stream).ReadToEnd();
        Assert.IsFalse(text.Contains("relab\n") || text.EndsWith("relab"), "the torn line is gone");
        Assert.IsTrue(text.EndsWith('\n'), "every line is whole");
    }

    [TestMethod]
    public void TheDecisionsFileIsTheOnlyFileTheServerWrites()
    {
        // Traffic of every kind: a decision, images, predictions, a form file above the spooling threshold, bad requests.
        var item = Items().First(i => i.GetProperty("path").GetString() != _seededPath && i.GetProperty("decision").ValueKind == JsonValueKind.Null);
        int id = item.GetProperty("id").GetInt32();
        using (var decided = Post($"api/items/{id}/decision", Json(new { decision = "accept", reviewer = "http-test" })))
            Assert.AreEqual(HttpStatusCode.OK, decided.StatusCode);
        Assert.AreEqual("accept", Item(id).GetProperty("decision").GetProperty("decision").GetString());
        _http.GetAsync($"api/items/{id}/image").Result.Dispose();
        _http.GetAsync("").Result.Dispose();
        byte[] png = File.ReadAllBytes(FirstImage(_images));
        using (var predicted = Post("predict", new ByteArrayContent(png))) Assert.AreEqual(HttpStatusCode.OK, predicted.StatusCode);
        var big = new byte[80_000];
        new Random(1).NextBytes(big);
        using (var spooled = Post("predict", new MultipartFormDataContent { { new ByteArrayContent(big), "image", "big.png" } }))
            Assert.AreEqual(HttpStatusCode.BadRequest, spooled.StatusCode, "not an image, read in full first");

        string decisions = Path.ChangeExtension(_csv, null) + ".decisions.csv";
        var after = Snapshot(_root);
        var changed = after.Where(f => !_before.TryGetValue(f.Key, out var was) || was != f.Value).Select(f => f.Key)
            .Concat(_before.Keys.Where(f => !after.ContainsKey(f)))
            // What the runtimes below keep in TMPDIR for themselves, whatever the program: the .NET runtime's diagnostics
            // socket and debugger pipes, and ONNX Runtime's session file (one fixed name, 51 bytes).
            .Where(f => Path.GetFileName(f) is var name && !name.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal)
                        && !name.StartsWith("clr-debug-pipe-", StringComparison.Ordinal) && !(name == ".ses" && Path.GetDirectoryName(f) == _temp))
            .ToList();
        Assert.AreEqual(decisions, string.Join("\n", changed), "the files added, changed or removed under the images, CSV, working and temporary folders");
        StringAssert.Contains(File.ReadAllText(decisions), "http-test");
    }

    static List<JsonElement> Items()
    {
        using var response = _http.GetAsync("api/state").Result;
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(response.Content.ReadAsStringAsync().Result).RootElement.GetProperty("items").EnumerateArray().ToList();
    }

    static JsonElement Item(int id) => JsonDocument.Parse(_http.GetStringAsync($"api/items/{id}").Result).RootElement;

    static HttpResponseMessage Post(string url, HttpContent content) => _http.PostAsync(url, content).Result;

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    static void AssertProblem(HttpResponseMessage response, int status, string says)
    {
        using (response)
        {
            string body = response.Content.ReadAsStringAsync().Result;
            Assert.AreEqual(status, (int)response.StatusCode, body);
            StringAssert.Contains(body, says);
        }
    }

    /// <summary>A GET written byte for byte on a socket: the status code and the body.</summary>
    static (int Status, string Body) Raw(string target, string? host = null)
    {
        var server = new Uri(Server.BaseUrl);
        using var client = new TcpClient(server.Host, server.Port);
        using var stream = client.GetStream();
        byte[] request = Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {host ?? server.Authority}\r\nConnection: close\r\n\r\n");
        stream.Write(request);
        return Answer(stream);
    }

    /// <summary>A POST with a chunked body written on a socket: the status code and the body of the answer.</summary>
    static (int Status, string Body) RawPost(string target, byte[] body)
    {
        var server = new Uri(Server.BaseUrl);
        using var client = new TcpClient(server.Host, server.Port);
        using var stream = client.GetStream();
        stream.Write(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: {server.Authority}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"));
        try
        {
            foreach (var chunk in body.Chunk(16_384))
            {
                stream.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
                stream.Write(chunk);
                stream.Write("\r\n"u8);
            }
            stream.Write("0\r\n\r\n"u8);
        }
        catch (IOException)
        {
            // The server answered and closed before the whole body was sent: its answer is still there to read.
        }
        return Answer(stream);
    }

    static (int Status, string Body) Answer(Stream stream)
    {
        string answer = new StreamReader(stream, Encoding.UTF8).ReadToEnd();
        int status = int.Parse(answer.Split(' ', 3)[1]);
        return (status, answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    static string WithPath(string row, string path)
    {
        var fields = CliTool.Fields(row);
        fields[0] = path;
        return string.Join(",", fields.Select(MLNet.Bayesian.Cli.CsvFields.Quote));
    }

    static string FirstImage(string folder) => Directory.GetFiles(folder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).First();

    /// <summary>Every file under <paramref name="folder"/>, its length and time, without entering linked folders (one links back here).</summary>
    static Dictionary<string, (long, DateTime)> Snapshot(string folder)
    {
        var files = new Dictionary<string, (long, DateTime)>();
        var folders = new Stack<string>(new[] { folder });
        while (folders.Count > 0)
        {
            string current = folders.Pop();
            foreach (string file in Directory.GetFiles(current))
            {
                var info = new FileInfo(file);
                files[file] = (info.LinkTarget is null ? info.Length : -1, info.LastWriteTimeUtc);
            }
            foreach (string sub in Directory.GetDirectories(current))
                if (new DirectoryInfo(sub).LinkTarget is null) folders.Push(sub);
                else files[sub] = (-1, DateTime.MinValue);
        }
        return files;
    }
}
