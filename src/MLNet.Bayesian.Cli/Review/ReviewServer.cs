using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>Where and how the review server listens.</summary>
internal sealed record ReviewServerOptions(IPAddress Address, int Port, string? Token, string Reviewer, long MaxRequestBytes);

/// <summary>
/// The review web app (ASP.NET Core, minimal APIs). Routes:
/// <list type="bullet">
/// <item><c>GET /</c>: the page (one HTML file in the assembly).</item>
/// <item><c>GET /api/state</c>: classes, the rule, every row with its decision; <c>GET /api/items/{id}</c>: one row in full;
/// <c>GET /api/items/{id}/image</c>: its image file.</item>
/// <item><c>POST /api/items/{id}/decision</c> (JSON <c>{decision, label, reviewer}</c>): saved to the decisions file
/// before the answer.</item>
/// <item><c>POST /predict</c>: an image (the body, or a form file) scored by the model, as JSON.</item>
/// </list>
/// Security: the URLs name rows by their place in the CSV, never by a path, and a row whose path leads outside the
/// images folder is never served; on loopback only requests for a loopback host name are answered (a web page elsewhere
/// cannot reach the server through DNS rebinding); with a token every request must carry it (bearer header, or the
/// cookie that <c>/?token=</c> sets); request bodies are bounded. The only file the server writes is the decisions file.
/// </summary>
internal static class ReviewServer
{
    const string TokenCookie = "mlnet_review_token";

    public static WebApplication Build(ReviewServerOptions options, ReviewQueue queue, DecisionLog decisions, ReviewRule? rule, ImageScorer scorer)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            kestrel.Listen(options.Address, options.Port);
        });
        var app = builder.Build();
        bool loopback = IPAddress.IsLoopback(options.Address);
        app.Use(async (context, next) =>
        {
            var response = context.Response;
            response.Headers["X-Content-Type-Options"] = "nosniff";
            response.Headers["X-Frame-Options"] = "DENY";
            response.Headers["Referrer-Policy"] = "no-referrer";
            if (loopback && !IsLoopbackName(context.Request.Host.Host))
            {
                await Refuse(context, 400, $"host '{context.Request.Host.Host}' is not this loopback server's: open http://127.0.0.1:{context.Connection.LocalPort}/");
                return;
            }
            if (options.Token is string token)
            {
                if (context.Request.Path == "/" && context.Request.Query["token"] is { Count: 1 } query && Same(query[0], token))
                {
                    response.Cookies.Append(TokenCookie, token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
                    response.Redirect("/");
                    return;
                }
                string? given = context.Request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal)
                    ? auth["Bearer ".Length..].Trim() : context.Request.Cookies[TokenCookie];
                if (!Same(given, token))
                {
                    await Refuse(context, 401, "this server needs its token: open the URL it printed (with ?token=...) or send 'Authorization: Bearer <token>'");
                    return;
                }
            }
            await next();
        });

        app.MapGet("/", () => Results.Text(Page.Value, "text/html; charset=utf-8"))
           .AddEndpointFilter(async (context, next) =>
           {
               context.HttpContext.Response.Headers["Content-Security-Policy"] =
                   "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'";
               return await next(context);
           });

        app.MapGet("/api/state", () => Results.Json(new
        {
            classes = queue.Classes,
            reviewer = options.Reviewer,
            rule = rule?.Condition,
            decisionsFile = decisions.File,
            errorRows = queue.ErrorRows,
            items = queue.Items.Select(i => new
            {
                id = i.Id, path = i.Path, predicted = i.PredictedLabel, flagged = i.Flagged, uncertainty = Finite(i.Uncertainty),
                decision = Decision(decisions.For(i.Path)),
            }),
        }));

        app.MapGet("/api/items/{id:int}", (int id) => queue[id] is { } item ? Results.Json(Detail(item, queue, rule, decisions)) : NotFound(id));

        app.MapGet("/api/items/{id:int}/image", (int id) =>
        {
            if (queue[id] is not { } item) return NotFound(id);
            if (item.Image is null) return Results.Problem($"row {id} ('{item.Path}') leads outside the images folder: it is not served.", statusCode: 403);
            if (!File.Exists(item.Image)) return Results.Problem($"row {id}: the image '{item.Path}' is no longer in the images folder.", statusCode: 404);
            if (!queue.Folder.Holds(item.Image))
                return Results.Problem($"row {id} ('{item.Path}') is a link to a file outside the images folder: it is not served.", statusCode: 403);
            return Results.File(item.Image, ContentType(item.Image));
        });

        app.MapPost("/api/items/{id:int}/decision", (int id, DecisionRequest request) =>
        {
            if (queue[id] is not { } item) return NotFound(id);
            var verdict = DecisionLog.Parse(request.Decision);
            if (verdict is null) return Results.Problem($"decision '{request.Decision}' is none of accept, relabel, unknown.", statusCode: 400);
            string label = verdict switch
            {
                ReviewVerdict.Accept => item.PredictedLabel,
                ReviewVerdict.Unknown => "",
                _ => request.Label ?? "",
            };
            if (verdict == ReviewVerdict.Relabel && !queue.Classes.Contains(label))
                return Results.Problem($"label '{label}' is not one of the model's classes ({string.Join(", ", queue.Classes)}).", statusCode: 400);
            if (verdict == ReviewVerdict.Relabel && label == item.PredictedLabel) verdict = ReviewVerdict.Accept;
            var decision = new ReviewDecision(item.Path, item.Image ?? "", verdict.Value, label, item.PredictedLabel, item.Flagged,
                Reviewer(request.Reviewer, options.Reviewer), DateTimeOffset.UtcNow);
            decisions.Append(decision);
            return Results.Json(new { id, decision = Decision(decision) });
        });

        app.MapPost("/predict", async (HttpRequest request) =>
        {
            if (request.ContentLength > options.MaxRequestBytes)
                return Results.Problem($"the request is {request.ContentLength} bytes; this server takes at most {options.MaxRequestBytes} (--max-request-bytes).", statusCode: 413);
            byte[] image;
            try { image = await ReadImage(request, options.MaxRequestBytes); }
            catch (BadHttpRequestException e) when (e.StatusCode == 413)
            {
                return Results.Problem($"the request is over {options.MaxRequestBytes} bytes, the most this server takes (--max-request-bytes).", statusCode: 413);
            }
            catch (BadHttpRequestException e) { return Results.Problem(e.Message, statusCode: e.StatusCode); }
            if (image.Length == 0) return Results.Problem("the request holds no image: send its bytes as the body, or as a file of a multipart form.", statusCode: 400);
            try { return Results.Json(scorer.Score(image, "POST /predict body")); }
            catch (InvalidDataException e) { return Results.Problem(e.Message, statusCode: 400); }
        });
        return app;
    }

    /// <summary>The body of a decision request.</summary>
    internal sealed record DecisionRequest(string? Decision, string? Label, string? Reviewer);

    static object Detail(ReviewItem item, ReviewQueue queue, ReviewRule? rule, DecisionLog decisions) => new
    {
        id = item.Id, path = item.Path, predicted = item.PredictedLabel, flagged = item.Flagged, uncertainty = Finite(item.Uncertainty),
        probabilities = item.Probabilities.Select((p, k) => (p, k)).OrderByDescending(x => x.p).Select(x => new { label = queue.Classes[x.k], p = Finite(x.p) }),
        predictionSet = item.PredictionSet,
        scores = item.Scores.ToDictionary(s => s.Key.ToString(), s => Finite(s.Value)),
        reasons = item.Reasons.Select(r => new
        {
            score = r.Score.ToString(), value = Finite(r.Value), threshold = r.Threshold, rank = Finite(r.Rank), past = r.Past,
            direction = r.Score.HighMeansUncertain() ? ">" : "<",
        }),
        combined = rule is { HasRanks: true, Cuts.Count: > 1 } ? new { value = Finite(item.Uncertainty), threshold = rule.CombinedThreshold, how = rule.Combination.ToString() } : null,
        decision = Decision(decisions.For(item.Path)),
    };

    static object? Decision(ReviewDecision? d) => d is null ? null : new
    {
        decision = DecisionLog.Name(d.Verdict), label = d.Label, reviewer = d.Reviewer, decidedAt = d.DecidedAt,
    };

    static async Task<byte[]> ReadImage(HttpRequest request, long maxBytes)
    {
        using var buffer = new MemoryStream();
        if (request.HasFormContentType && request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) == true)
        {
            // ASP.NET Core spools a form file past 64 KB to a temporary file; held in memory (bounded by the body limit),
            // the decisions file stays the only file the server writes.
            var form = await request.ReadFormAsync(new FormOptions { MemoryBufferThreshold = int.MaxValue, MultipartBodyLengthLimit = maxBytes });
            if (form.Files.FirstOrDefault() is not { } file) return Array.Empty<byte>();
            await file.CopyToAsync(buffer);
        }
        else await request.Body.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    static string Reviewer(string? given, string fallback)
    {
        string name = new string((given ?? "").Where(c => !char.IsControl(c)).ToArray()).Trim();
        return name.Length == 0 ? fallback : name.Length > 100 ? name[..100] : name;
    }

    static IResult NotFound(int id) => Results.Problem($"there is no row {id} in the predictions CSV.", statusCode: 404);

    static double? Finite(double v) => double.IsFinite(v) ? v : null;

    static bool IsLoopbackName(string host)
        => host is "localhost" or "127.0.0.1" or "[::1]" or "::1" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));

    static bool Same(string? given, string token)
        => given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(token));

    static Task Refuse(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(message + "\n");
    }

    static string ContentType(string file) => Path.GetExtension(file).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".gif" => "image/gif",
        ".bmp" => "image/bmp",
        ".webp" => "image/webp",
        _ => "application/octet-stream",
    };

    static readonly Lazy<string> Page = new(() =>
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("ReviewPage.html")
            ?? throw new InvalidOperationException("The review page is missing from the assembly (EmbeddedResource ReviewPage.html).");
        return new StreamReader(stream).ReadToEnd();
    });
}
