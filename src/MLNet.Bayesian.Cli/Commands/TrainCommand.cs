using System.ComponentModel;
using System.Globalization;
using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.MLNetIntegration;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <SOURCE>"), Description("Image folder (one sub-folder per class) or 'fashion-mnist' (Debian's dataset-fashion-mnist).")]
        public string Data { get; set; } = "";

        [CommandOption("--out <ZIP>"), Description("Where to write the ML.NET model zip.")]
        public string Out { get; set; } = "model.zip";

        [CommandOption("--architecture <NAME>"), Description("SmallCnn, ResNet20, ResNet18, ResNet50, ResNet101 or SmallVit.")]
        [DefaultValue(Architecture.SmallCnn)]
        public Architecture Architecture { get; set; } = Architecture.SmallCnn;

        [CommandOption("--epochs <D,M,S>"), Description("Epochs of the deterministic, mean-field and shared stages.")]
        [DefaultValue("3,1,1")]
        public string Epochs { get; set; } = "3,1,1";

        [CommandOption("--samples <S>"), Description("Posterior samples averaged per prediction.")]
        [DefaultValue(30)]
        public int Samples { get; set; } = 30;

        [CommandOption("--batch-size <N>"), DefaultValue(64)]
        public int BatchSize { get; set; } = 64;

        [CommandOption("--seed <N>"), DefaultValue(1)]
        public int Seed { get; set; } = 1;

        [CommandOption("--validation-fraction <F>"), Description("Held out to report metrics and tune the review threshold.")]
        [DefaultValue(0.1)]
        public double ValidationFraction { get; set; } = 0.1;

        [CommandOption("--review-coverage <F>"), Description("Fraction of images decided automatically; the rest are flagged needs_review (ignored with --target-accuracy).")]
        [DefaultValue(0.9)]
        public double ReviewCoverage { get; set; } = 0.9;

        [CommandOption("--target-accuracy <F>"), Description("Instead of a coverage: the accuracy the automatically decided images must reach on validation data.")]
        public double? TargetAccuracy { get; set; }

        [CommandOption("--kl-weight <F>"), Description("KL weight of the ELBO; 0.1 calibrates better on a few thousand images.")]
        [DefaultValue(1.0)]
        public double KLWeight { get; set; } = 1.0;

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required: an image folder or 'fashion-mnist'.");
            var parts = Epochs.Split(',');
            if (parts.Length != 3 || parts.Any(p => !int.TryParse(p, out int e) || e < 0))
                return ValidationResult.Error("--epochs takes three non-negative numbers, e.g. 3,1,1.");
            if (ValidationFraction <= 0 || ValidationFraction >= 1) return ValidationResult.Error("--validation-fraction must be between 0 and 1.");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        int[] epochs = settings.Epochs.Split(',').Select(int.Parse).ToArray();
        string folder = ImageInputs.ResolveFolder(settings.Data, train: true);
        var ml = new MLContext(settings.Seed);
        var entries = ImageInputs.Entries(folder);
        var split = ml.Data.TrainTestSplit(ImageInputs.Load(ml, entries), settings.ValidationFraction, seed: settings.Seed);
        var prepare = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath")).Fit(split.TrainSet);
        var options = new BayesianImageClassificationTrainer.Options
        {
            Architecture = settings.Architecture, DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2],
            BatchSize = settings.BatchSize, PredictionSamples = settings.Samples, Seed = settings.Seed, KLWeight = settings.KLWeight,
            ValidationSet = prepare.Transform(split.TestSet), CancellationToken = cancellation,
        };
        AnsiConsole.MarkupLine($"training on [bold]{entries.Count}[/] images from {Markup.Escape(folder)} ({settings.Architecture}, epochs {settings.Epochs})");

        BayesianImageClassificationTransformer model = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .Start(progress =>
            {
                var tasks = new Dictionary<string, ProgressTask>();
                ml.Log += (_, e) =>
                {
                    int at = e.Message.IndexOf("] stage ", StringComparison.Ordinal);
                    if (at < 0) return;
                    string line = e.Message[(at + 2)..];
                    var epoch = System.Text.RegularExpressions.Regex.Match(line, @"^stage (\d) \((\w+)\) epoch (\d+)/(\d+)");
                    if (epoch.Success)
                    {
                        string stage = $"stage {epoch.Groups[1].Value} {epoch.Groups[2].Value}";
                        if (!tasks.TryGetValue(stage, out var task)) tasks[stage] = task = progress.AddTask(stage, maxValue: int.Parse(epoch.Groups[4].Value));
                        task.Value = int.Parse(epoch.Groups[3].Value);
                    }
                    AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]");
                };
                model = ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(prepare.Transform(split.TrainSet));
            });

        var pipeline = prepare.Append(model);
        string outPath = Path.GetFullPath(settings.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        ml.Model.Save(pipeline, split.TrainSet.Schema, outPath);

        var scored = pipeline.Transform(split.TestSet);
        var metrics = ml.MulticlassClassification.EvaluateWithUncertainty(scored);
        var rule = settings.TargetAccuracy is double target
            ? ml.MulticlassClassification.FitReviewRule(scored, targetAccuracy: target)
            : ml.MulticlassClassification.FitReviewRule(scored, coverage: settings.ReviewCoverage);
        ReviewSettings.Write(outPath, rule);

        var report = model.Report;
        var table = new Table().AddColumns("measure", "value");
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        table.AddRow("validation accuracy", F(metrics.Accuracy, "P2"));
        table.AddRow("validation NLL", F(metrics.Nll, "F4"));
        table.AddRow("validation ECE", F(metrics.Ece, "F4"));
        if (report.Posterior is { } p)
        {
            table.AddRow("components / outliers", $"{p.Components} / {p.Outliers:N0}");
            table.AddRow("trainable parameters", $"{report.SharedParameters:N0} ({F(report.CompressionVsDeterministic, "F1")}x fewer than deterministic)");
        }
        table.AddRow("review rule", $"{rule.Column} > {F(rule.Threshold, "G4")}: decides {F(rule.Coverage, "P0")} at {F(rule.Accuracy, "P1")} accuracy");
        table.AddRow("model", Markup.Escape(outPath));
        AnsiConsole.Write(table);
        model.Dispose();
        return 0;
    }
}
