using System.ComponentModel;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Plots;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Uncertainty;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

/// <summary>Metrics and plots of a model on labelled images, with out-of-distribution images when given.</summary>
internal sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <ZIP>")]
        public string Model { get; set; } = "";

        [CommandOption("--data <SOURCE>"), Description("Labelled image folder (one sub-folder per class) or 'fashion-mnist' (its test split).")]
        public string Data { get; set; } = "";

        [CommandOption("--ood <SOURCE>"), Description("Images of none of the classes (a folder, any layout; or a digits .csv/.csv.gz, drawn at the model's size), for OOD metrics.")]
        public string? Ood { get; set; }

        [CommandOption("--report <DIR>"), Description("Folder for metrics.json and the PNG plots.")]
        public string Report { get; set; } = "report";

        [CommandOption("--coverage <F>"), DefaultValue(0.9)]
        public double Coverage { get; set; } = 0.9;

        public override ValidationResult Validate()
        {
            if (!File.Exists(Model)) return ValidationResult.Error($"--model: file '{Model}' does not exist.");
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required.");
            if (Ood is not null && !Directory.Exists(Ood) && !File.Exists(Ood)) return ValidationResult.Error($"--ood: '{Ood}' does not exist.");
            return ValidationResult.Success();
        }
    }


    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var ml = new MLContext(seed: 1);
        var model = BayesianModel.Load(ml, settings.Model, out _);
        string folder = ImageInputs.ResolveFolder(settings.Data, train: false);
        var entries = ImageInputs.Entries(folder);
        var scored = model.Transform(ImageInputs.Load(ml, entries));
        Directory.CreateDirectory(settings.Report);

        var rows = ml.Data.CreateEnumerable<Row>(scored, reuseRowObject: false).Where(r => r.Label > 0).ToList();
        if (rows.Count == 0) throw new InvalidDataException($"No image in '{folder}' has a class the model knows.");
        int k = rows[0].Score.Length;
        var probabilities = rows.SelectMany(r => r.Score).ToArray();
        var labels = rows.Select(r => (int)r.Label - 1).ToArray();
        var metrics = ClassificationMetrics.Compute(probabilities, labels, k);
        var correct = rows.Select(r => r.PredictedLabel == r.Label).ToArray();
        var curves = new Dictionary<string, RiskCoverage>
        {
            [BayesianColumnNames.MutualInformation] = RiskCoverage.Compute(correct, rows.Select(r => r.MutualInformation).ToArray()),
            [BayesianColumnNames.PredictiveEntropy] = RiskCoverage.Compute(correct, rows.Select(r => r.PredictiveEntropy).ToArray()),
            [BayesianColumnNames.Confidence] = RiskCoverage.Compute(correct, rows.Select(r => -r.Confidence).ToArray()),
        };
        var bins = ReliabilityDiagram.Compute(probabilities, labels, k);
        var report = new Dictionary<string, object>
        {
            ["images"] = rows.Count, ["accuracy"] = metrics.Accuracy, ["nll"] = metrics.Nll, ["ece"] = metrics.Ece, ["brier"] = metrics.Brier,
            ["coverage"] = settings.Coverage,
            ["selective_accuracy"] = curves.ToDictionary(c => c.Key, c => c.Value.AccuracyAtCoverage(settings.Coverage)),
            ["aurc"] = curves.ToDictionary(c => c.Key, c => c.Value.Aurc),
            ["reliability"] = bins,
        };
        UncertaintyPlots.Reliability(bins, Path.Combine(settings.Report, "reliability.png"));
        UncertaintyPlots.RiskCoverage(curves, Path.Combine(settings.Report, "risk_coverage.png"));

        var histograms = new Dictionary<string, float[]> { ["in distribution"] = rows.Select(r => r.PredictiveEntropy).ToArray() };
        if (settings.Ood is not null)
        {
            // Digits are drawn at the size of the evaluation images.
            int side;
            using (var first = MLImage.CreateFromFile(entries[0].ImagePath)) side = first.Height;
            string oodFolder = ImageInputs.ResolveOodFolder(settings.Ood, side);
            var oodFiles = MLNet.Bayesian.Data.ImageFolder.ListImageFiles(oodFolder);
            var ood = ml.Data.CreateEnumerable<Row>(model.Transform(ml.Data.LoadFromEnumerable(
                oodFiles.Select(f => new MLNet.Bayesian.Data.ImageFolderEntry { ImagePath = Path.GetFullPath(f), Label = "" }))), reuseRowObject: false).ToList();
            histograms["out of distribution"] = ood.Select(r => r.PredictiveEntropy).ToArray();
            report["ood_images"] = ood.Count;
            report["ood"] = new Dictionary<string, OutOfDistributionMetrics>
            {
                [BayesianColumnNames.MutualInformation] = OutOfDistributionMetrics.Compute(rows.Select(r => r.MutualInformation).ToList(), ood.Select(r => r.MutualInformation).ToList()),
                [BayesianColumnNames.PredictiveEntropy] = OutOfDistributionMetrics.Compute(rows.Select(r => r.PredictiveEntropy).ToList(), ood.Select(r => r.PredictiveEntropy).ToList()),
                [BayesianColumnNames.Confidence] = OutOfDistributionMetrics.Compute(rows.Select(r => -r.Confidence).ToList(), ood.Select(r => -r.Confidence).ToList()),
            };
        }
        UncertaintyPlots.Histogram("Predictive entropy", histograms, Path.Combine(settings.Report, "uncertainty_histogram.png"));
        File.WriteAllText(Path.Combine(settings.Report, "metrics.json"), JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));

        AnsiConsole.MarkupLine($"{rows.Count} images: accuracy {metrics.Accuracy:P2}, NLL {metrics.Nll:F4}, ECE {metrics.Ece:F4}, Brier {metrics.Brier:F4}; " +
                               $"accuracy of the {settings.Coverage:P0} most certain (mutual information) {curves[BayesianColumnNames.MutualInformation].AccuracyAtCoverage(settings.Coverage):P2}");
        if (report.TryGetValue("ood", out var o))
            foreach (var (name, m) in (Dictionary<string, OutOfDistributionMetrics>)o)
                AnsiConsole.MarkupLine($"OOD by {name}: AUROC {m.Auroc:F3}, AUPR {m.Aupr:F3}, FPR at 95% TPR {m.FprAt95Tpr:F3}");
        AnsiConsole.MarkupLine($"report written to {Markup.Escape(Path.GetFullPath(settings.Report))}");
        return 0;
    }

    sealed class Row
    {
        public uint Label { get; set; }
        public uint PredictedLabel { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
        public float Confidence { get; set; }
        public float PredictiveEntropy { get; set; }
        public float MutualInformation { get; set; }
    }
}
