using System.ComponentModel;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.ML;
using MLNet.Bayesian.Cli.Review;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

/// <summary>
/// The person's side of the review rule: a web page on localhost that shows the rows of a predictions CSV that need
/// review, most uncertain first, and saves what the person decides to a decisions file beside the CSV (resumed on the
/// next start). The same server scores images sent to <c>POST /predict</c>. <c>train --reviewed</c> learns from the file.
/// </summary>
internal sealed class ReviewCommand : Command<ReviewCommand.Settings>
{
    /// <summary>The environment variable that can hold the token instead of --token (kept out of the process list).</summary>
    public const string TokenVariable = "MLNET_BAYESIAN_REVIEW_TOKEN";

    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <ZIP>"), Description("The model zip that scored the CSV (its classes, its review rule; /predict scores with it). Required.")]
        public string Model { get; set; } = "";

        [CommandOption("--predictions <CSV>"), Description("The CSV written by 'score'. Required.")]
        public string Predictions { get; set; } = "";

        [CommandOption("--images <FOLDER>"), Description("The folder that 'score' read: the CSV's paths are relative to it. Required.")]
        public string Images { get; set; } = "";

        [CommandOption("--decisions <CSV>"), Description("Where decisions are saved (and resumed from). Default: beside the predictions, predictions.decisions.csv.")]
        public string? Decisions { get; set; }

        [CommandOption("--port <N>"), Description("Port to listen on; 0 picks a free one (the URL printed says which)."), DefaultValue(5080)]
        public int Port { get; set; } = 5080;

        [CommandOption("--bind <ADDRESS>"), Description("Address to listen on. Anything but loopback (127.0.0.1, ::1, localhost) needs a token."), DefaultValue("127.0.0.1")]
        public string Bind { get; set; } = "127.0.0.1";

        [CommandOption("--token <TOKEN>"), Description($"A secret every request must carry (16 characters or more), required with a --bind other than loopback; or set {TokenVariable}. Default: none on loopback.")]
        public string? Token { get; set; }

        [CommandOption("--reviewer <NAME>"), Description("Name written with each decision when the page gives none. Default: the user's login name.")]
        public string? Reviewer { get; set; }

        [CommandOption("--max-request-bytes <N>"), Description("Largest request body (an image sent to /predict) accepted; larger ones get 413."), DefaultValue(16L << 20)]
        public long MaxRequestBytes { get; set; } = 16L << 20;

        [CommandOption("--max-image-pixels <N>"), Description("Largest image /predict accepts, width x height; larger ones get 400."), DefaultValue(ImageFileCheck.DefaultMaxPixels)]
        public long MaxImagePixels { get; set; } = ImageFileCheck.DefaultMaxPixels;

        [CommandOption("--engines <N>"), Description("Prediction engines kept for /predict's concurrent requests. Default: the number of processors.")]
        public int? Engines { get; set; }

        /// <summary>The token given, by flag or environment; null for none.</summary>
        internal string? TokenOrEnvironment => Token ?? (Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } t ? t : null);

        internal IPAddress Address => Bind.Trim().Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback : IPAddress.Parse(Bind.Trim());

        public override ValidationResult Validate()
        {
            if (!File.Exists(Model)) return ValidationResult.Error($"--model: file '{Model}' does not exist.");
            if (!File.Exists(Predictions)) return ValidationResult.Error($"--predictions: file '{Predictions}' does not exist (score writes it).");
            if (!Directory.Exists(Images)) return ValidationResult.Error($"--images: folder '{Images}' does not exist.");
            if (Port is < 0 or > 65535) return ValidationResult.Error($"--port {Port}: a port is 0 to 65535.");
            if (!Bind.Trim().Equals("localhost", StringComparison.OrdinalIgnoreCase) && !IPAddress.TryParse(Bind.Trim(), out _))
                return ValidationResult.Error($"--bind '{Bind}' is not an IP address (e.g. 127.0.0.1, or 0.0.0.0 for every interface).");
            if (TokenOrEnvironment is { } token && token.Length < 16)
                return ValidationResult.Error($"the token is {token.Length} characters; give 16 or more (e.g. the output of 'openssl rand -hex 16').");
            if (!IPAddress.IsLoopback(Address) && TokenOrEnvironment is null)
                return ValidationResult.Error($"--bind {Bind} lets other machines reach the server: give --token (or set {TokenVariable}), which every request must then carry.");
            if (MaxRequestBytes < 1) return ValidationResult.Error("--max-request-bytes must be at least 1.");
            if (MaxImagePixels < 1) return ValidationResult.Error("--max-image-pixels must be at least 1.");
            return Engines is < 1 ? ValidationResult.Error("--engines must be at least 1.") : ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var ml = new MLContext(seed: 1);
        var info = BayesianModel.Inspect(settings.Model);
        var model = ServedModel.Load(ml, settings.Model, out var inputSchema);
        // The engines of /predict share it and do not own it: it goes when the server does.
        using var ownedModel = model as IDisposable;
        if (PredictionsCsv.ModelOf(settings.Predictions) is { } digest && digest != PredictionsCsv.Digest(settings.Model))
            AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(settings.Predictions)} was written by another model than {Markup.Escape(settings.Model)}: " +
                                   "the page shows that model's scores, /predict this one's[/]");
        var queue = ReviewQueue.Load(settings.Predictions, settings.Images, info.Labels, info.ReviewRule);
        string decisionsFile = Path.GetFullPath(settings.Decisions ?? DecisionLog.Beside(settings.Predictions));
        using var decisions = DecisionLog.Open(decisionsFile);
        if (decisions.CutBytes > 0) AnsiConsole.MarkupLine($"[yellow]cut a torn last line ({decisions.CutBytes} bytes) from {Markup.Escape(decisionsFile)}: that decision was not saved[/]");
        using var scorer = new ImageScorer(ml, model, inputSchema, info.Labels, info.ReviewRule, settings.MaxImagePixels, settings.Engines ?? Environment.ProcessorCount);
        var options = new ReviewServerOptions(settings.Address, settings.Port, settings.TokenOrEnvironment, settings.Reviewer ?? Environment.UserName, settings.MaxRequestBytes);
        var app = ReviewServer.Build(options, queue, decisions, info.ReviewRule, scorer);
        app.StartAsync(cancellation).GetAwaiter().GetResult();
        try
        {
            int flagged = queue.Items.Count(i => i.Flagged), done = queue.Items.Count(i => i.Flagged && decisions.For(i.Path) is not null);
            AnsiConsole.MarkupLine($"{flagged} of {queue.Items.Count} rows need review, {done} done; decisions -> {Markup.Escape(decisionsFile)}" +
                (queue.ErrorRows > 0 ? $" ({queue.ErrorRows} error rows left out)" : "") +
                (queue.OutsideFolder > 0 ? $" [yellow]({queue.OutsideFolder} rows lead outside {Markup.Escape(settings.Images)}: their images are not shown)[/]" : ""));
            foreach (string url in app.Urls)
                // A plain line, first word "review:", that scripts (and the tests) read the URL from.
                Console.WriteLine($"review: {Reachable(url)}/{(options.Token is null ? "" : "?token=" + options.Token)}");
            Console.WriteLine("press Ctrl+C to stop; decisions are saved as they are made");
            app.WaitForShutdownAsync(cancellation).GetAwaiter().GetResult();
        }
        finally
        {
            app.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        return 0;
    }

    // Bound to every interface (0.0.0.0 or [::]), Kestrel names that address, which no browser elsewhere can open: the
    // URL names this machine instead.
    static string Reachable(string url)
    {
        var uri = new Uri(url);
        bool everyInterface = IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any));
        return (everyInterface ? new UriBuilder(uri) { Host = Dns.GetHostName() }.Uri.ToString() : url).TrimEnd('/');
    }
}
