using System.Net;
using System.Net.Http.Headers;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// The review server beyond loopback: it does not start without a token, and with one it answers no request that does
/// not carry it (bearer header, or the cookie that the printed URL's <c>?token=</c> sets).
/// </summary>
[TestClass]
public sealed class ReviewServerTokenTests
{
    const string TokenVariable = "MLNET_BAYESIAN_REVIEW_TOKEN";

    [TestMethod]
    public void BindingBeyondLoopbackIsRefusedWithoutAToken()
    {
        string csv = ReviewData.FreshCsv();
        string[] Review(params string[] extra)
            => new[] { "review", "--model", ReviewData.Model, "--predictions", csv, "--images", ReviewData.Images, "--port", "0" }.Concat(extra).ToArray();
        var noToken = new Dictionary<string, string?> { [TokenVariable] = null };

        var (code, output) = CliTool.Run(Review("--bind", "0.0.0.0"), noToken);
        Assert.AreNotEqual(0, code, output);
        StringAssert.Contains(output, "--token");
        (code, output) = CliTool.Run(Review("--bind", "0.0.0.0", "--token", "short"), noToken);
        Assert.AreNotEqual(0, code, output);
        StringAssert.Contains(output, "16 or more");
        (code, output) = CliTool.Run(Review("--bind", "0.0.0.0"), new Dictionary<string, string?> { [TokenVariable] = "too-short" });
        Assert.AreNotEqual(0, code, output);
        StringAssert.Contains(output, "16 or more", "the variable is checked as the flag is");
        (code, output) = CliTool.Run(Review("--bind", "every-interface"), noToken);
        Assert.AreNotEqual(0, code, output);
        StringAssert.Contains(output, "--bind 'every-interface' is not an IP address");
        Assert.IsFalse(File.Exists(Path.ChangeExtension(csv, null) + ".decisions.csv"), "a refused start writes nothing");
    }

    /// <summary>The token with its last character changed: another token of the same length.</summary>
    static string Other(string token) => token[..^1] + (token[^1] == '0' ? '1' : '0');

    [TestMethod]
    public void WithATokenEveryRequestMustCarryIt()
    {
        string token = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();
        string csv = ReviewData.FreshCsv();
        // The token from the environment: it stays out of the process list.
        using var server = new ReviewServerProcess(
            new[] { "review", "--model", ReviewData.Model, "--predictions", csv, "--images", ReviewData.Images, "--port", "0", "--bind", "0.0.0.0" },
            new Dictionary<string, string?> { [TokenVariable] = token });
        StringAssert.EndsWith(server.Url, "/?token=" + token, "the URL to open carries the token");
        Assert.IsTrue(server.Url.StartsWith($"http://{System.Net.Dns.GetHostName()}:", StringComparison.OrdinalIgnoreCase),
            $"bound to every interface, the URL names this machine, which a browser elsewhere can open: {server.Url}");
        var baseUrl = new Uri($"http://127.0.0.1:{new Uri(server.BaseUrl).Port}/");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(60) };

        HttpStatusCode Send(HttpMethod method, string url, string? bearer = null, string? cookie = null)
        {
            using var request = new HttpRequestMessage(method, url);
            if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            if (cookie is not null) request.Headers.Add("Cookie", cookie);
            if (method == HttpMethod.Post) request.Content = new ByteArrayContent(File.ReadAllBytes(Directory.GetFiles(ReviewData.Images, "*.png", SearchOption.AllDirectories)[0]));
            using var response = http.Send(request);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
                StringAssert.Contains(response.Content.ReadAsStringAsync().Result, "needs its token", url);
            return response.StatusCode;
        }

        foreach (var (method, url) in new[] { (HttpMethod.Get, ""), (HttpMethod.Get, "api/state"), (HttpMethod.Get, "api/items/0"), (HttpMethod.Get, "api/items/0/image"), (HttpMethod.Post, "predict") })
        {
            Assert.AreEqual(HttpStatusCode.Unauthorized, Send(method, url), $"{method} /{url} without the token");
            Assert.AreEqual(HttpStatusCode.Unauthorized, Send(method, url, bearer: Other(token)), $"{method} /{url} with another token");
            Assert.AreEqual(HttpStatusCode.Unauthorized, Send(method, url, cookie: "mlnet_review_token=" + token.ToUpperInvariant()), $"{method} /{url} with another cookie");
            Assert.AreEqual(HttpStatusCode.OK, Send(method, url, bearer: token), $"{method} /{url} with the token");
        }
        Assert.AreEqual(HttpStatusCode.Unauthorized, Send(HttpMethod.Get, "?token=" + Other(token)), "a wrong token in the URL");
        Assert.AreEqual(HttpStatusCode.Unauthorized, Send(HttpMethod.Get, "?token=" + token[..^1]), "a prefix of the token in the URL");

        // The printed URL: its token becomes a cookie (HttpOnly, SameSite=Strict) and the address bar loses it.
        using (var opened = http.GetAsync("?token=" + token).Result)
        {
            Assert.AreEqual(HttpStatusCode.Redirect, opened.StatusCode);
            Assert.AreEqual("/", opened.Headers.Location?.OriginalString);
            string cookie = opened.Headers.GetValues("Set-Cookie").Single();
            StringAssert.StartsWith(cookie, "mlnet_review_token=" + token + ";");
            StringAssert.Contains(cookie.ToLowerInvariant(), "httponly");
            StringAssert.Contains(cookie.ToLowerInvariant(), "samesite=strict");
        }
        Assert.AreEqual(HttpStatusCode.OK, Send(HttpMethod.Get, "api/state", cookie: "mlnet_review_token=" + token));
    }
}
