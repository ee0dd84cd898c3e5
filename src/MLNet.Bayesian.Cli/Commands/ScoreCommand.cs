using System.ComponentModel;
using Microsoft.ML;
using System.Diagnostics;
using MLNet.Bayesian.Cli.Sharding;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

/// <summary>
/// Batch scoring: one CSV row per image file below the folder, an error row for a file that cannot be scored (it
/// says what is wrong with the file), resumption of an interrupted run (rows already in the CSV are skipped, a torn
/// last line is cut away and scored again), exit code 1 when any row failed. With a shard (<c>--shard K/N</c>, or a Slurm
/// array task / Kubernetes Indexed Job pod) it scores only the images of that shard into its own CSV part, which
/// <c>merge</c> puts together.
/// </summary>
internal sealed class ScoreCommand : Command<ScoreCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <ZIP>"), Description("Model zip written by 'train' (or by mlContext.Model.Save of an image pipeline). Required.")]
        public string Model { get; set; } = "";

        [CommandOption("--images <FOLDER>"), Description("Folder of images to score, searched recursively. Required.")]
        public string Images { get; set; } = "";

        [CommandOption("--out <CSV>"), Description("Output CSV; an existing file is resumed. With a shard, the shard's part beside it: predictions.part-K-of-N.csv."), DefaultValue("predictions.csv")]
        public string Out { get; set; } = "predictions.csv";

        [CommandOption("--shard <K/N>"), Description("Score only shard K of N (K = 0 .. N-1; images go to shards by a hash of their relative path) into predictions.part-K-of-N.csv; 'merge' joins the parts. 'none': every image, whatever the environment says. Default: the Slurm array task (SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT) or Kubernetes' JOB_COMPLETION_INDEX of --shards, else every image.")]
        public string? Shard { get; set; }

        [CommandOption("--shards <N>"), Description("Shard count when the shard index comes from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; needed for Kubernetes and when resubmitting some tasks of a Slurm array. Default: SLURM_ARRAY_TASK_COUNT.")]
        public int? Shards { get; set; }

        [CommandOption("--threshold <T>"), Description("Flag needs_review when the one --review-score is on the unsure side of T. Default: the rule stored at training time (over all its scores).")]
        public double? Threshold { get; set; }

        [CommandOption("--review-score <NAMES>"), Description("Score that --threshold applies to: MutualInformation, PredictiveEntropy, ExpectedEntropy, Confidence, FeatureDistance or Energy (one). Without --threshold it must name the stored rule's score(s), comma-separated. Default: the stored rule's scores, else MutualInformation.")]
        public string? ReviewScore { get; set; }

        [CommandOption("--batch <N>"), Description("Images scored together and written to the CSV in one write."), DefaultValue(256)]
        public int Batch { get; set; } = 256;

        [CommandOption("--max-image-pixels <N>"), Description("Largest image accepted, width x height; a larger file gets an error row."), DefaultValue(ImageFileCheck.DefaultMaxPixels)]
        public long MaxImagePixels { get; set; } = ImageFileCheck.DefaultMaxPixels;

        public override ValidationResult Validate()
        {
            if (!File.Exists(Model)) return ValidationResult.Error($"--model: file '{Model}' does not exist.");
            if (!Directory.Exists(Images)) return ValidationResult.Error($"--images: folder '{Images}' does not exist.");
            if (ReviewScore is not null)
            {
                try
                {
                    if (UncertaintyScores.ParseList(ReviewScore).Count > 1 && Threshold is not null)
                        return ValidationResult.Error($"--threshold applies to one score, but --review-score names {ReviewScore}; name one score, or leave out --threshold to use the stored rule.");
                }
                catch (ArgumentException e) { return ValidationResult.Error($"--review-score: {e.Message}"); }
            }
            if (MaxImagePixels < 1) return ValidationResult.Error("--max-image-pixels must be at least 1.");
            try { _ = ShardOf(this); }
            catch (ArgumentException e) { return ValidationResult.Error(e.Message); }
            return Batch < 1 ? ValidationResult.Error("--batch must be at least 1.") : ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var ml = new MLContext(seed: 1);
        var info = BayesianModel.Inspect(settings.Model);
        var model = BayesianModel.Load(ml, settings.Model, out var inputSchema);
        bool sets = model.GetOutputSchema(inputSchema).GetColumnOrNull(BayesianColumnNames.PredictionSet) is not null;
        var rule = ReviewRuleFor(settings, info.ReviewRule);
        if (rule is null) AnsiConsole.MarkupLine("[yellow]no review threshold given or stored: needs_review is left empty[/]");
        else AnsiConsole.MarkupLine($"review rule: {Markup.Escape(rule.ToString())}");

        string root = Path.GetFullPath(settings.Images);
        var files = ImageFolder.ListImageFiles(root);
        if (files.Count == 0) AnsiConsole.MarkupLine($"[yellow]no image files (png, jpg, jpeg, bmp, gif, webp) below {Markup.Escape(root)}[/]");
        var shard = ShardOf(settings);
        string output = settings.Out;
        if (shard is not null)
        {
            int all = files.Count;
            files = files.Where(f => shard.Owns(Path.GetRelativePath(root, f))).ToList();
            output = shard.PartPath(settings.Out);
            AnsiConsole.MarkupLine($"{shard}{(settings.Shard is null ? $" (from {shard.Source}; --shard none scores every image)" : "")}: " +
                                   $"{files.Count} of the {all} images -> {Markup.Escape(output)}");
        }
        var classNames = info.Labels.ToArray();
        using var csv = PredictionsCsv.Open(output, classNames, PredictionsCsv.Digest(settings.Model), sets);
        if (csv.CutBytes > 0) AnsiConsole.MarkupLine($"[yellow]cut a torn last line ({csv.CutBytes} bytes) from {Markup.Escape(output)}; its image is scored again[/]");
        var pending = files.Where(f => !csv.Done.Contains(Path.GetRelativePath(root, f))).ToList();
        AnsiConsole.MarkupLine($"{files.Count} images, {csv.Done.Count} already in {Markup.Escape(output)}, {pending.Count} to score");

        int errors = 0, scored = 0, reported = 0;
        var clock = Stopwatch.StartNew();
        for (int start = 0; start < pending.Count; start += settings.Batch)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = pending.Skip(start).Take(settings.Batch).ToList();
            var rows = new Dictionary<string, string>();
            // Check first: a bad file becomes an error row instead of stopping the batch or scoring a half-decoded image.
            var unreadable = new List<(string File, string Error)>();
            var readable = ImageInputs.Readable(batch, f => f, unreadable, settings.MaxImagePixels);
            foreach (var (file, error) in unreadable)
            {
                rows[file] = csv.ErrorRow(Path.GetRelativePath(root, file), error);
                errors++;
            }
            foreach (var (file, result) in Score(ml, model, readable, sets))
            {
                if (result.Prediction is { } p)
                {
                    rows[file] = csv.Row(Path.GetRelativePath(root, file), p, rule?.NeedsReview(score => p.Scores[score]));
                    scored++;
                }
                else
                {
                    rows[file] = csv.ErrorRow(Path.GetRelativePath(root, file), result.Error!);
                    errors++;
                }
            }
            csv.Append(batch.Select(f => rows[f]));
            int done = start + batch.Count;
            // A plain line every tenth, so that a log (Slurm's, CI's) shows progress without a redrawn bar.
            if (done * 10L / pending.Count > reported || done == pending.Count)
            {
                reported = (int)(done * 10L / pending.Count);
                double seconds = clock.Elapsed.TotalSeconds;
                AnsiConsole.MarkupLine($"{done}/{pending.Count} images, {seconds:F1} s, {done / Math.Max(seconds, 1e-9):F0} images/s");
            }
        }
        int totalErrors = errors + csv.PreviousErrors;
        AnsiConsole.MarkupLine($"scored {scored}, errors {errors} in this run ({totalErrors} in the file) -> {Markup.Escape(output)}");
        return totalErrors > 0 ? 1 : 0;
    }

    /// <summary>
    /// Scores the files together; when the batch fails (e.g. one image makes the model produce non-finite scores),
    /// scores them one by one, so that only the files at fault get error rows.
    /// </summary>
    static IEnumerable<(string File, (ScoredImage? Prediction, string? Error) Result)> Score(MLContext ml, ITransformer model, List<string> files, bool sets)
    {
        if (files.Count == 0) return Array.Empty<(string, (ScoredImage?, string?))>();
        try
        {
            return files.Zip(Predict(ml, model, files, sets), (f, p) => (f, ((ScoredImage?)p, (string?)null))).ToList();
        }
        catch (InvalidDataException) when (files.Count > 1)
        {
            return files.SelectMany(f => Score(ml, model, new List<string> { f }, sets)).ToList();
        }
        catch (InvalidDataException e)
        {
            return new[] { (files[0], ((ScoredImage?)null, (string?)$"cannot score: {e.Message}")) };
        }
    }

    static List<ScoredImage> Predict(MLContext ml, ITransformer model, List<string> files, bool sets)
    {
        var data = ml.Data.LoadFromEnumerable(files.Select(f => new ImageFolderEntry { ImagePath = f, Label = "" }));
        try
        {
            return ScoredImage.ReadAll(model.Transform(data), sets);
        }
        catch (Exception e) when (e is not InvalidDataException && RowError(e) is { } inner)
        {
            // ML.NET wraps what a transform's getter throws; the inner exception says what is wrong with the row.
            throw new InvalidDataException(inner.Message, e);
        }
    }

    static InvalidDataException? RowError(Exception e)
    {
        for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            if (inner is InvalidDataException found) return found;
        return null;
    }

    /// <summary>The shard this run scores: <c>--shard</c>, else the scheduler's task index; null for every image.</summary>
    static Shard? ShardOf(Settings settings)
    {
        if (settings.Shard is not null)
        {
            if (settings.Shards is not null) throw new ArgumentException("give either --shard K/N or --shards N, not both.");
            return string.Equals(settings.Shard, "none", StringComparison.OrdinalIgnoreCase) ? null : Sharding.Shard.Parse(settings.Shard, "--shard");
        }
        return Sharding.Shard.FromEnvironment(settings.Shards, Environment.GetEnvironmentVariable);
    }

    static ReviewRule? ReviewRuleFor(Settings settings, ReviewRule? stored)
    {
        var scores = settings.ReviewScore is null ? null : UncertaintyScores.ParseList(settings.ReviewScore);
        if (settings.Threshold is double t)
        {
            var score = scores?[0] ?? (stored is { Cuts.Count: 1 } ? stored.Cuts[0].Score : UncertaintyScore.MutualInformation);
            return new ReviewRule(score, t, double.NaN, double.NaN);
        }
        if (stored is null) return null;
        if (scores is not null && !scores.ToHashSet().SetEquals(stored.Scores))
            throw new InvalidOperationException($"--review-score {string.Join(",", scores)} needs a --threshold (one score): the stored rule is on {string.Join(",", stored.Scores)}.");
        return stored;
    }
}
