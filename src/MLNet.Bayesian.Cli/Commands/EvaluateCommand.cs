using System.ComponentModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Plots;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

/// <summary>Metrics and plots of a model on labelled images, with out-of-distribution images when given.</summary>
internal sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <ZIP>"), Description("Model zip written by 'train'. Required.")]
        public string Model { get; set; } = "";

        [CommandOption("--data <SOURCE>"), Description("Labelled image folder (one sub-folder per class) or 'fashion-mnist' (its test split). Required.")]
        public string Data { get; set; } = "";

        [CommandOption("--ood <SOURCE>"), Description("Images of none of the classes (a folder, any layout; or a digits .csv/.csv.gz, drawn at the model's size), for OOD metrics. Default: none.")]
        public string? Ood { get; set; }

        [CommandOption("--report <DIR>"), Description("Folder for metrics.json and the PNG plots."), DefaultValue("report")]
        public string Report { get; set; } = "report";

        [CommandOption("--coverage <F>"), Description("Share of images the selective-accuracy figures keep (the most certain ones)."), DefaultValue(0.9)]
        public double Coverage { get; set; } = 0.9;

        public override ValidationResult Validate()
        {
            if (!File.Exists(Model)) return ValidationResult.Error($"--model: file '{Model}' does not exist.");
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (Ood is not null && !Directory.Exists(Ood) && !File.Exists(Ood)) return ValidationResult.Error($"--ood: '{Ood}' does not exist.");
            if (Coverage <= 0 || Coverage > 1) return ValidationResult.Error("--coverage must be in (0, 1].");
            return ValidationResult.Success();
        }
    }

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var ml = new MLContext(seed: 1);
        var model = BayesianModel.Load(ml, settings.Model, out var inputSchema);
        var stored = BayesianModel.Inspect(settings.Model).ReviewRule;
        var data = Score(ml, model, inputSchema, settings);
        Directory.CreateDirectory(settings.Report);
        var report = UncertaintyEvaluator.Evaluate(data.Rows, settings.Coverage, data.Ood, stored);
        WritePlots(data, report, stored, settings);
        AtomicFile.WriteAllText(Path.Combine(settings.Report, "metrics.json"), JsonSerializer.Serialize(MetricsJson(data, report, stored, settings), Json));
        PrintSummary(data, report, stored, settings);
        AnsiConsole.MarkupLine($"report written to {Markup.Escape(Path.GetFullPath(settings.Report))}");
        return 0;
    }

    /// <summary>The scored evaluation images (and out-of-distribution images), their names, and the files left out.</summary>
    sealed record ScoredData(ScoredRows Rows, ScoredRows? Ood, MLNet.Bayesian.Conformal.ConformalEvaluation? Conformal,
        string DataName, string OodName, List<(string File, string Error)> Skipped);

    /// <summary>Scores the evaluation folder and, when asked, the out-of-distribution images; unreadable files are left out by name.</summary>
    static ScoredData Score(MLContext ml, ITransformer model, DataViewSchema inputSchema, Settings settings)
    {
        bool sets = model.GetOutputSchema(inputSchema).GetColumnOrNull(BayesianColumnNames.PredictionSet) is not null;
        string folder = ImageInputs.ResolveFolder(settings.Data, train: false);
        string dataName = DataName(settings.Data), oodName = settings.Ood is null ? "" : DataName(settings.Ood);
        // Unreadable files are left out by name (and listed in metrics.json) rather than stopping the evaluation midway.
        var skipped = new List<(string File, string Error)>();
        var entries = ImageInputs.Readable(ImageInputs.Entries(folder), e => e.ImagePath, skipped);
        if (entries.Count == 0) throw new InvalidDataException($"No readable image in '{folder}'.");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // With prediction sets the scored rows are cached, so that the sets are read without scoring the images twice.
        var scored = model.Transform(ImageInputs.Load(ml, entries));
        if (sets) scored = ml.Data.Cache(scored);
        var rows = UncertaintyEvaluation.ReadScoredRows(scored);
        var conformal = sets ? ConformalFigures(scored, rows.Labels) : null;
        AnsiConsole.MarkupLine($"scored {rows.Count:N0} images of {Markup.Escape(dataName)} in {clock.Elapsed.TotalSeconds:F1} s ({rows.Count / clock.Elapsed.TotalSeconds:F0} images/s)");
        if (!rows.Labels.Any(l => l >= 0)) throw new InvalidDataException($"No image in '{folder}' has a class the model knows.");

        ScoredRows? ood = null;
        if (settings.Ood is not null)
        {
            // Digits are drawn at the size of the evaluation images.
            int side;
            using (var first = MLImage.CreateFromFile(entries[0].ImagePath)) side = first.Height;
            string oodFolder = ImageInputs.ResolveOodFolder(settings.Ood, side);
            var oodFiles = ImageInputs.Readable(MLNet.Bayesian.Data.ImageFolder.ListImageFiles(oodFolder), f => f, skipped);
            clock.Restart();
            ood = UncertaintyEvaluation.ReadScoredRows(model.Transform(ml.Data.LoadFromEnumerable(
                oodFiles.Select(f => new MLNet.Bayesian.Data.ImageFolderEntry { ImagePath = Path.GetFullPath(f), Label = "" }))), labelColumnName: null);
            AnsiConsole.MarkupLine($"scored {ood.Count:N0} out-of-distribution images of {Markup.Escape(oodName)} in {clock.Elapsed.TotalSeconds:F1} s");
        }
        foreach (var (_, error) in skipped.Take(10)) AnsiConsole.MarkupLine($"[yellow]left out: {Markup.Escape(error)}[/]");
        if (skipped.Count > 10) AnsiConsole.MarkupLine($"[yellow]... {skipped.Count} unreadable files left out in all (listed in metrics.json)[/]");
        return new ScoredData(rows, ood, conformal, dataName, oodName, skipped);
    }

    /// <summary>metrics.json: the classification figures, selective accuracy, the stored rule's effect, OOD figures and prediction sets.</summary>
    static Dictionary<string, object?> MetricsJson(ScoredData data, UncertaintyReport report, ReviewRule? stored, Settings settings)
    {
        var m = report.Classification;
        var json = new Dictionary<string, object?>
        {
            ["data"] = data.DataName, ["images"] = m.Count, ["accuracy"] = m.Accuracy, ["nll"] = m.Nll, ["ece"] = m.Ece, ["brier"] = m.Brier,
            ["coverage"] = settings.Coverage,
            ["selective_accuracy"] = report.Selective.ToDictionary(s => s.Key.ToString(), s => s.Value.AccuracyAtCoverage),
            ["aurc"] = report.Selective.ToDictionary(s => s.Key.ToString(), s => s.Value.Aurc),
            ["reliability"] = report.Reliability,
            ["review_rule"] = stored?.ToString(),
            ["review_rule_scores"] = stored?.Scores.Select(sc => sc.ToString()).ToList(),
            ["review_rule_kept"] = report.Rule?.Kept,
            ["review_rule_accuracy_of_kept"] = report.Rule is { } kept && double.IsFinite(kept.AccuracyOfKept) ? kept.AccuracyOfKept : null,
            ["skipped_files"] = data.Skipped.Select(f => new Dictionary<string, string> { ["file"] = f.File, ["error"] = f.Error }).ToList(),
        };
        if (data.Ood is { } ood)
        {
            json["ood_data"] = data.OodName;
            json["ood_images"] = ood.Count;
            json["ood"] = report.OutOfDistribution!.ToDictionary(o => o.Key.ToString(), o => o.Value);
            json["ood_flagged_at_coverage"] = report.OutOfDistributionFlagged!.ToDictionary(o => o.Key.ToString(), o => o.Value);
            // The figures the summary line prints, under one key each: every score's AUROC and the stored rule's.
            var auroc = report.OutOfDistribution!.ToDictionary(o => o.Key.ToString(), o => (double?)o.Value.Auroc);
            if (report.Rule?.OutOfDistribution is { } byRule) auroc["ReviewRule"] = byRule.Auroc;
            json["ood_auroc"] = auroc;
            json["ood_review_rule"] = report.Rule?.OutOfDistribution;
            json["ood_flagged_by_review_rule"] = report.Rule?.OutOfDistributionFlagged;
        }
        if (data.Conformal is { } c)
        {
            json["conformal_coverage"] = c.Coverage;
            json["conformal_mean_set_size"] = c.MeanSetSize;
            json["conformal_empty_sets"] = c.EmptyShare;
            json["conformal_multi_class_sets"] = c.MultiClassShare;
        }
        return json;
    }

    /// <summary>
    /// The reliability diagram, the risk-coverage curves, and one histogram per score, data sets named, with the stored
    /// review rule's cut on that score and this score's own threshold at the coverage marked: a person sees at a glance
    /// which score separates the two sets and where the rule cuts. The rule's combined score gets one too.
    /// </summary>
    static void WritePlots(ScoredData data, UncertaintyReport report, ReviewRule? stored, Settings settings)
    {
        var (rows, ood, dataName, oodName) = (data.Rows, data.Ood, data.DataName, data.OodName);
        UncertaintyPlots.Reliability(report.Reliability, Path.Combine(settings.Report, "reliability.png"));
        UncertaintyPlots.RiskCoverage(UncertaintyScores.All.Where(rows.Scores.ContainsKey).ToDictionary(s => s.ToString(), s => UncertaintyEvaluator.Curve(rows, s)),
            Path.Combine(settings.Report, "risk_coverage.png"));
        string versus = ood is null ? dataName : $"{dataName} vs {oodName}";
        foreach (var score in UncertaintyScores.All.Where(rows.Scores.ContainsKey))
        {
            var values = rows.Values(score);
            var histograms = new Dictionary<string, float[]> { [$"in distribution: {dataName} ({rows.Count:N0})"] = values };
            if (ood is not null) histograms[$"out of distribution: {oodName} ({ood.Count:N0})"] = ood.Values(score);
            var thresholds = new Dictionary<string, double>();
            if (values.Max() > values.Min())
            {
                double atCoverage = UncertaintyEvaluator.FitReviewRule(rows, score, coverage: settings.Coverage).Cuts[0].Threshold;
                thresholds[$"{settings.Coverage:P0} coverage: {atCoverage:G3}"] = atCoverage;
            }
            if (stored?.Cuts.FirstOrDefault(c => c.Score == score) is { } cut) thresholds[$"stored review rule: {cut.Threshold:G3}"] = cut.Threshold;
            UncertaintyPlots.Histogram($"{score}: {versus}", histograms, Path.Combine(settings.Report, $"histogram_{score.Describe().SnakeName}.png"),
                unit: score.Describe().Unit, thresholds: thresholds);
        }
        if (stored is { HasRanks: true } && stored.Scores.All(rows.Scores.ContainsKey) && (ood is null || stored.Scores.All(ood.Scores.ContainsKey)))
        {
            // Non-finite scores rank +inf (always reviewed); the histogram shows the finite ranks.
            var histograms = new Dictionary<string, float[]> { [$"in distribution: {dataName} ({rows.Count:N0})"] = stored.CombinedUncertainty(rows).Where(float.IsFinite).ToArray() };
            if (ood is not null) histograms[$"out of distribution: {oodName} ({ood.Count:N0})"] = stored.CombinedUncertainty(ood).Where(float.IsFinite).ToArray();
            UncertaintyPlots.Histogram($"review rule ({string.Join(stored.Combination == ScoreCombination.Fisher ? " + " : " or ", stored.Scores)}): {versus}", histograms, Path.Combine(settings.Report, "histogram_review_rule.png"),
                unit: stored.Combination == ScoreCombination.Fisher ? "sum of the scores' -ln tail shares on validation" : "highest validation rank of the rule's scores", thresholds: new Dictionary<string, double> { [$"stored review rule: {stored.CombinedThreshold:G3}"] = stored.CombinedThreshold });
        }
    }

    /// <summary>The console summary: prediction sets, accuracy and selective accuracy, each score's OOD figures, and the stored rule's effect.</summary>
    static void PrintSummary(ScoredData data, UncertaintyReport report, ReviewRule? stored, Settings settings)
    {
        var m = report.Classification;
        if (data.Conformal is { } figures)
            AnsiConsole.MarkupLine($"prediction sets: coverage {figures.Coverage:P2}, mean size {figures.MeanSetSize:F3}, empty {figures.EmptyShare:P2}, more than one class {figures.MultiClassShare:P2}");
        AnsiConsole.MarkupLine($"{m.Count} images: accuracy {m.Accuracy:P2}, NLL {m.Nll:F4}, ECE {m.Ece:F4}, Brier {m.Brier:F4}; accuracy of the {settings.Coverage:P0} most certain: " +
            string.Join(", ", report.Selective.Select(s => $"{s.Value.AccuracyAtCoverage:P2} by {s.Key}")));
        if (data.Ood is { } ood) AnsiConsole.MarkupLine($"out of distribution: {Markup.Escape(data.OodName)}, {ood.Count:N0} images");
        if (report.OutOfDistribution is { } o)
            foreach (var (score, metrics) in o)
                AnsiConsole.MarkupLine($"OOD by {score}: AUROC {metrics.Auroc:F3}, AUPR {metrics.Aupr:F3}, FPR at 95% TPR {metrics.FprAt95Tpr:F3}; " +
                                       $"flagged at {settings.Coverage:P0} coverage: {report.OutOfDistributionFlagged![score]:P1}");
        if (stored is not null) AnsiConsole.MarkupLine($"stored review rule: {Markup.Escape(stored.ToString())}");
        if (report.Rule is { } r)
        {
            // The summary line: every AUROC, and what the stored rule does to both sets.
            string aurocs = report.OutOfDistribution is { } all
                ? "OOD AUROC " + string.Join(", ", all.Select(a => $"{a.Key} {a.Value.Auroc:F3}")) + (r.OutOfDistribution is { } byRule ? $", review rule {byRule.Auroc:F3}" : "") + "; "
                : "";
            string flaggedOod = r.OutOfDistributionFlagged is double f ? $"flags {f:P1} of {Markup.Escape(data.OodName)} and " : "";
            AnsiConsole.MarkupLine($"summary: {aurocs}the stored review rule ({stored!.Coverage:P0} coverage on validation) {flaggedOod}keeps {r.Kept:P1} of {Markup.Escape(data.DataName)} at {r.AccuracyOfKept:P2} accuracy");
        }
    }

    /// <summary>How a data source is named in plots and the report: 'fashion-mnist test', or the folder's or file's name.</summary>
    static string DataName(string source)
        => string.Equals(source, ImageInputs.FashionMnistName, StringComparison.OrdinalIgnoreCase) ? "fashion-mnist test"
            : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(source)));

    /// <summary>Empirical coverage and sizes of the model's prediction sets on the labelled rows (label -1 rows are left out).</summary>
    static MLNet.Bayesian.Conformal.ConformalEvaluation ConformalFigures(IDataView scored, int[] labels)
    {
        var column = scored.Schema[BayesianColumnNames.PredictionSet];
        using var cursor = scored.GetRowCursor(new[] { column });
        var getter = cursor.GetGetter<VBuffer<bool>>(column);
        VBuffer<bool> set = default;
        long covered = 0, sizes = 0, empty = 0, several = 0;
        int row = 0, n = 0;
        while (cursor.MoveNext())
        {
            int label = labels[row++];
            if (label < 0) continue;
            getter(ref set);
            var values = set.DenseValues().ToArray();
            int size = values.Count(v => v);
            n++;
            if (values[label]) covered++;
            sizes += size;
            if (size == 0) empty++;
            if (size > 1) several++;
        }
        return new MLNet.Bayesian.Conformal.ConformalEvaluation(n, (double)covered / n, (double)sizes / n, (double)empty / n, (double)several / n);
    }
}
