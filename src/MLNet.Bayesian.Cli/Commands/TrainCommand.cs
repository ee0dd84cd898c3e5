using System.ComponentModel;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Cli.Review;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <SOURCE>"), Description("Image folder (one sub-folder per class) or 'fashion-mnist' (Debian's dataset-fashion-mnist). Required.")]
        public string Data { get; set; } = "";

        [CommandOption("--out <ZIP>"), Description("Where to write the ML.NET model zip."), DefaultValue("model.zip")]
        public string Out { get; set; } = "model.zip";

        [CommandOption("--architecture <NAME>"), Description("SmallCnn, ResNet20, ResNet18, ResNet50, ResNet101 or SmallVit."), DefaultValue(Architecture.SmallCnn)]
        public Architecture Architecture { get; set; } = Architecture.SmallCnn;

        [CommandOption("--backbone <NAME>"), Description("A pretrained network under the Bayesian head: none (train --architecture from scratch on the pixels) or resnet18-imagenet " +
            "(ImageNet ResNet-18: each image becomes 512 features once, in colour at --input-size, and only the head is trained; the saved model holds the backbone). " +
            "The way to go with a few hundred photos."), DefaultValue("none")]
        public string Backbone { get; set; } = "none";

        [CommandOption("--backbone-training <HOW>"), Description("What of the backbone trains: frozen (only the head, on features made once: fast on a CPU) or last-stage " +
            "(its last stage too, from the pretrained weights, Bayesian with the head: adapts to images far from ImageNet; slower, a GPU's job at full size)."), DefaultValue("frozen")]
        public string BackboneTraining { get; set; } = "frozen";

        [CommandOption("--input-size <N>"), Description("Height and width the network sees; every image is resized to it. Default: the backbone's size (224 for resnet18-imagenet; a multiple of 32), " +
            "without one the first image's size.")]
        public int? InputSize { get; set; }

        [CommandOption("--variant <NAME>"), Description("How component draws become weights: Shared (one value per component; small models, fast scoring) or Hierarchical (each weight draws its own value)."),
         DefaultValue(TrainerOptions.DefaultVariant)]
        public SamplingVariant Variant { get; set; } = TrainerOptions.DefaultVariant;

        [CommandOption("--epochs <D,M,S>"), Description("Epochs of the deterministic, mean-field and shared stages. Default: 3,1,1 from scratch; 30,5,5 for a frozen backbone " +
            "(an epoch over features takes a fraction of a second); 5,2,2 for --backbone-training last-stage.")]
        public string? Epochs { get; set; }

        /// <summary>The epochs asked for, or the default of the network being trained.</summary>
        internal string EpochsOrDefault => Epochs ?? (BackboneNames.ByName[Backbone.Trim()], BackboneNames.TrainingByName[BackboneTraining.Trim()]) switch
        {
            (Backbones.Backbone.None, _) => $"{TrainerOptions.DefaultDeterministicEpochs},{TrainerOptions.DefaultMeanFieldEpochs},{TrainerOptions.DefaultSharedEpochs}",
            (_, Backbones.BackboneTraining.Frozen) => "30,5,5",
            _ => "5,2,2",
        };

        [CommandOption("--samples <S>"), Description("Posterior samples averaged per prediction."), DefaultValue(TrainerOptions.DefaultPredictionSamples)]
        public int Samples { get; set; } = TrainerOptions.DefaultPredictionSamples;

        [CommandOption("--batch-size <N>"), Description("Images per training and scoring batch."), DefaultValue(TrainerOptions.DefaultBatchSize)]
        public int BatchSize { get; set; } = TrainerOptions.DefaultBatchSize;

        [CommandOption("--seed <N>"), Description("Seed of weights, shuffling, the validation split and prediction draws: same seed, same data, same model."), DefaultValue(1)]
        public int Seed { get; set; } = 1;

        [CommandOption("--validation-fraction <F>"), Description("Share of the images held out to report metrics and tune the review rule.")]
        [DefaultValue(0.1)]
        public double ValidationFraction { get; set; } = 0.1;

        [CommandOption("--review-coverage <F>"), Description("Share of images decided automatically; the rest are flagged needs_review (ignored with --target-accuracy).")]
        [DefaultValue(0.9)]
        public double ReviewCoverage { get; set; } = 0.9;

        [CommandOption("--target-accuracy <F>"), Description("Instead of a coverage: the accuracy the automatically decided images must reach on validation data. Default: none.")]
        public double? TargetAccuracy { get; set; }

        [CommandOption("--review-score <NAMES>"), Description("Score(s) the review rule uses, comma-separated: PredictiveEntropy, Energy, FeatureDistance, MutualInformation, ExpectedEntropy, Confidence. Several are combined as --review-combination says, fitted together on the validation images to keep the coverage. A score that never changes (MutualInformation of a deterministic model) is left out of a list."),
         DefaultValue("PredictiveEntropy,Energy,FeatureDistance")]
        public string ReviewScore { get; set; } = "PredictiveEntropy,Energy,FeatureDistance";

        [CommandOption("--review-combination <HOW>"), Description("How the review rule combines several scores: 'fisher' (the sum of each score's -ln tail share on validation passes one threshold: moderate evidence adds up, one extreme score is enough) or 'any' (any score past its own threshold)."),
         DefaultValue("fisher")]
        public string ReviewCombination { get; set; } = "fisher";

        /// <summary>The prediction sets' coverage when --conformal-coverage is not given.</summary>
        internal const double DefaultConformalCoverage = 0.9;

        // Nullable so that the default can give way on small data (too few calibration images: no sets, with a warning)
        // while a coverage the user asked for stops the run before training instead.
        [CommandOption("--conformal-coverage <F>"), Description("Coverage of the conformal prediction sets, calibrated on their own share of the validation images (--calibration-share; the saved model then has PredictionSet and PredictionSetSize; score writes prediction_set); 0 turns them off. Default: 0.9, left out with a warning when the calibration share holds too few images for it (fewer than 9).")]
        public double? ConformalCoverage { get; set; }

        /// <summary>The coverage asked for, or the default.</summary>
        internal double ConformalCoverageOrDefault => ConformalCoverage ?? DefaultConformalCoverage;

        [CommandOption("--calibration-share <F>"), Description("With prediction sets: the share of the validation images that calibrates them and nothing else. The rest tunes the posterior scale and the review rule; keeping the two apart is what makes the sets' coverage hold on new images as stated."),
         DefaultValue(0.5)]
        public double CalibrationShare { get; set; } = 0.5;

        [CommandOption("--conformal-method <NAME>"), Description("Conformity score of the prediction sets: lac (every class with p >= 1 - threshold: the smallest sets), aps or raps (sets that adapt to how hard an image is)."),
         DefaultValue(ConformalMethod.Lac)]
        public ConformalMethod ConformalMethod { get; set; } = ConformalMethod.Lac;

        [CommandOption("--conformal-randomized <BOOL>"), Description("aps and raps only: randomised sets reach the coverage exactly in expectation, but decide confident images by a draw (and can be empty); deterministic ones over-cover. Default: false."),
         DefaultValue(false)]
        public bool ConformalRandomized { get; set; }

        [CommandOption("--reviewed <CSV>"), Description("A decisions file written by 'review' (repeatable): the images a person accepted or relabelled join the training data with that label; " +
            "those marked unknown never train, and measure how many unfamiliar images the new review rule flags. The report compares the old model and the new one on them. Default: none.")]
        public string[] Reviewed { get; set; } = Array.Empty<string>();

        [CommandOption("--kl-weight <F>"), Description("KL weight of the ELBO; 0.1 calibrates better on a few thousand images."), DefaultValue(1.0)]
        public double KLWeight { get; set; } = 1.0;

        [CommandOption("--set <NAME=VALUE>"), Description("Any other training setting, repeatable: e.g. --set KLWarmupEpochs=1 --set SharedPosterior.ComponentBudget=512. --list-settings shows them all with their defaults. Default: none.")]
        public string[] Set { get; set; } = Array.Empty<string>();

        [CommandOption("--list-settings"), Description("Print every training setting with its default and meaning, then exit.")]
        public bool ListSettings { get; set; }

        /// <summary>The parsed --review-combination.</summary>
        internal ScoreCombination Combination => ReviewCombination.Trim().ToLowerInvariant() switch
        {
            "fisher" => ScoreCombination.Fisher,
            "any" or "anyscore" => ScoreCombination.AnyScore,
            _ => throw new InvalidOperationException($"--review-combination: '{ReviewCombination}' is neither 'fisher' nor 'any'."),
        };

        public override ValidationResult Validate()
        {
            if (ListSettings) return ValidationResult.Success();
            if (ReviewCombination.Trim().ToLowerInvariant() is not ("fisher" or "any" or "anyscore"))
                return ValidationResult.Error($"--review-combination: '{ReviewCombination}' is neither 'fisher' nor 'any'.");
            if (string.IsNullOrWhiteSpace(Data)) return ValidationResult.Error("--data is required: an image folder or 'fashion-mnist'.");
            if (!BackboneNames.ByName.ContainsKey(Backbone.Trim()))
                return ValidationResult.Error($"--backbone: '{Backbone}' is not one of {string.Join(", ", BackboneNames.ByName.Keys)}.");
            if (!BackboneNames.TrainingByName.ContainsKey(BackboneTraining.Trim()))
                return ValidationResult.Error($"--backbone-training: '{BackboneTraining}' is not one of {string.Join(", ", BackboneNames.TrainingByName.Keys)}.");
            if (BackboneNames.TrainingByName[BackboneTraining.Trim()] != Backbones.BackboneTraining.Frozen && BackboneNames.ByName[Backbone.Trim()] == Backbones.Backbone.None)
                return ValidationResult.Error($"--backbone-training {BackboneTraining} trains part of a backbone: give one with --backbone.");
            if (InputSize is int size && size < 1) return ValidationResult.Error($"--input-size must be a positive number of pixels, not {size}.");
            var parts = EpochsOrDefault.Split(',');
            if (parts.Length != 3 || parts.Any(p => !int.TryParse(p, out int e) || e < 0))
                return ValidationResult.Error("--epochs takes three non-negative numbers, e.g. 3,1,1.");
            if (ValidationFraction <= 0 || ValidationFraction >= 1) return ValidationResult.Error("--validation-fraction must be between 0 and 1.");
            if (ReviewCoverage <= 0 || ReviewCoverage > 1) return ValidationResult.Error("--review-coverage must be in (0, 1].");
            if (ConformalCoverageOrDefault != 0 && !(ConformalCoverageOrDefault > 0 && ConformalCoverageOrDefault < 1))
                return ValidationResult.Error("--conformal-coverage must be between 0 and 1 (e.g. 0.9), or 0 for no prediction sets.");
            if (!(CalibrationShare > 0 && CalibrationShare < 1))
                return ValidationResult.Error("--calibration-share must be between 0 and 1 (e.g. 0.5): the validation images are split between calibrating the prediction sets and tuning the rest.");
            if (ConformalRandomized && ConformalMethod == ConformalMethod.Lac)
                return ValidationResult.Error("--conformal-randomized true is for --conformal-method aps or raps: lac's sets reach their coverage without a draw.");
            try { _ = UncertaintyScores.ParseList(ReviewScore); }
            catch (ArgumentException e) { return ValidationResult.Error($"--review-score: {e.Message}"); }
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        if (settings.ListSettings)
        {
            var list = new Table().AddColumns("setting", "default", "type", "meaning");
            foreach (var (name, type, value, field) in TrainingSettings.List(new BayesianImageClassificationTrainer.Options()))
                list.AddRow(Markup.Escape(name), Markup.Escape(value), Markup.Escape(type), Markup.Escape(TrainingSettings.Summary(field)));
            AnsiConsole.Write(list);
            return 0;
        }
        int[] epochs = settings.EpochsOrDefault.Split(',').Select(int.Parse).ToArray();
        var options = new BayesianImageClassificationTrainer.Options
        {
            Architecture = settings.Architecture, Variant = settings.Variant, DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2],
            BatchSize = settings.BatchSize, PredictionSamples = settings.Samples, Seed = settings.Seed, KLWeight = settings.KLWeight,
            CancellationToken = cancellation, Backbone = BackboneNames.ByName[settings.Backbone.Trim()],
            BackboneTraining = BackboneNames.TrainingByName[settings.BackboneTraining.Trim()],
        };
        if (settings.InputSize is int inputSize) (options.ImageHeight, options.ImageWidth) = (inputSize, inputSize);
        foreach (string assignment in settings.Set) TrainingSettings.Apply(options, assignment);
        options.Validate();

        string folder = ImageInputs.ResolveFolder(settings.Data, train: true);
        var ml = new MLContext(settings.Seed);
        IReadOnlyList<ImageFolderEntry> entries = ImageInputs.Entries(folder);
        ReviewedImages? reviewed = null;
        if (settings.Reviewed.Length > 0)
        {
            reviewed = ReviewedImages.Read(settings.Reviewed, entries.Select(e => e.Label).ToHashSet());
            entries = reviewed.AddTo(entries);
            AnsiConsole.MarkupLine($"reviewed: {reviewed.Labelled.Count} images a person labelled join the training data; {reviewed.Unknown.Count} marked unknown stay out of it " +
                                   "and measure the review rule");
        }
        var split = ml.Data.TrainTestSplit(ImageInputs.Load(ml, entries), settings.ValidationFraction, seed: settings.Seed);
        // Split conformal coverage holds when the calibration rows play no other part: tau, early stopping, the stage-0
        // guard and the review rule are all chosen on the tuning rows, the sets on the calibration rows alone.
        IDataView tuning = split.TestSet, calibration = split.TestSet;
        double conformalCoverage = settings.ConformalCoverageOrDefault;
        if (conformalCoverage > 0)
        {
            (tuning, calibration) = ml.Data.TrainTestSplit(split.TestSet, settings.CalibrationShare, seed: settings.Seed) switch { var s => (s.TrainSet, s.TestSet) };
            // Checked before training, not after it: a folder of a hundred images leaves a handful to calibrate on.
            int calibrationImages = calibration.GetColumn<string>("ImagePath").Count(), needed = ConformalCalibration.MinimumRows(conformalCoverage);
            if (calibrationImages < needed)
            {
                string why = $"the calibration share (--calibration-share {settings.CalibrationShare.ToString(CultureInfo.InvariantCulture)} of the validation images) holds {calibrationImages} images, " +
                             $"and prediction sets at coverage {conformalCoverage.ToString(CultureInfo.InvariantCulture)} need at least {needed}";
                string fixes = "more images, a larger --validation-fraction or --calibration-share, or a lower --conformal-coverage";
                if (settings.ConformalCoverage is not null)
                    throw new InvalidOperationException($"--conformal-coverage {conformalCoverage.ToString(CultureInfo.InvariantCulture)}: {why}. Give {fixes}; --conformal-coverage 0 trains without prediction sets.");
                AnsiConsole.MarkupLine($"[yellow]no prediction sets: {Markup.Escape(why)}. Give {Markup.Escape(fixes)} to have them. All validation images tune the rest.[/]");
                conformalCoverage = 0;
                tuning = calibration = split.TestSet;
            }
        }
        var prepare = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath")).Fit(split.TrainSet);
        options.ValidationSet = prepare.Transform(tuning);
        string network = options.Backbone == Backbones.Backbone.None ? settings.Architecture.ToString() : $"backbone {BackboneNames.NameOf(options.Backbone)} ({settings.BackboneTraining}) + {Architecture.Mlp} head";
        AnsiConsole.MarkupLine($"training on [bold]{entries.Count}[/] images from {Markup.Escape(folder)} ({Markup.Escape(network)}, {options.Variant}, epochs {settings.EpochsOrDefault})");

        var view = new TrainingProgressView(TrainingProgressView.ConsoleIsInteractive);
        // The trainer's own lines (reading, epochs, posterior construction) as they come; ML.NET's other chatter stays out.
        ml.Log += (_, e) =>
        {
            int at = e.Message.IndexOf("] ", StringComparison.Ordinal);
            if (at > 0 && e.Message.AsSpan(0, at).Contains("BayesianImageClassification", StringComparison.Ordinal) && !e.Message.Contains("Kind=Trace"))
                view.Line(e.Message[(at + 2)..]);
        };
        var model = view.Run(progress =>
        {
            options.Progress = progress;
            return ml.MulticlassClassification.Trainers.BayesianImageClassification(options).Fit(prepare.Transform(split.TrainSet));
        });

        ITransformer pipeline = prepare.Append(model);
        // The metrics and the review rule read the last epoch's validation pass (the trained model's seeded draws): the
        // validation images are not scored a second time. Only when that pass does not describe the final network (no
        // epoch ran after the last change) are they scored here, through the saved chain's transformers.
        var rows = model.Report.FinalValidation;
        if (rows is null)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            rows = UncertaintyEvaluation.ReadScoredRows(pipeline.Transform(tuning));
            AnsiConsole.MarkupLine($"scored the {rows.Count:N0} validation images for the review rule in {clock.Elapsed.TotalSeconds:F1} s");
        }
        var report = UncertaintyEvaluator.Evaluate(rows, settings.ReviewCoverage);
        var reviewScores = UncertaintyScores.ParseList(settings.ReviewScore);
        var rule = settings.TargetAccuracy is double target
            ? UncertaintyEvaluator.FitReviewRule(rows, reviewScores, targetAccuracy: target, combination: settings.Combination)
            : UncertaintyEvaluator.FitReviewRule(rows, reviewScores, coverage: settings.ReviewCoverage, combination: settings.Combination);
        foreach (var left in reviewScores.Except(rule.Scores))
            AnsiConsole.MarkupLine($"[yellow]{left} is the same on every validation image ({(left == UncertaintyScore.FeatureDistance ? "the model has no feature fit: FeatureFitImages is 0" : "a deterministic model has no epistemic uncertainty")}): " +
                                   $"the review rule uses {string.Join(" and ", rule.Scores)} without it[/]");
        if (conformalCoverage > 0)
        {
            // Scored by the trained model (its seeded draws, as the saved model's); the saved model computes the sets from its own (ONNX) scores.
            var calibrationRows = UncertaintyEvaluation.ReadScoredRows(pipeline.Transform(calibration));
            var conformal = ConformalCalibration.Fit(calibrationRows.Probabilities, calibrationRows.Classes, calibrationRows.Labels, new ConformalCalibration.Options
            {
                Coverage = conformalCoverage, Method = settings.ConformalMethod, Randomized = settings.ConformalRandomized, Seed = settings.Seed,
            });
            pipeline = prepare.Append(model.WithConformal(conformal));
            var onTuning = conformal.Evaluate(rows.Probabilities, rows.Labels);
            string kind = conformal.Method == ConformalMethod.Lac ? "LAC: every class with p >= 1 - threshold" : $"{conformal.Method}, {(conformal.Randomized ? "randomised" : "deterministic")}";
            AnsiConsole.MarkupLine($"conformal sets ({kind}) at {conformal.Coverage:P0}: threshold {conformal.Threshold:G4}, calibrated on {calibrationRows.Count:N0} validation images; " +
                $"on the other {rows.Count:N0} (not used to calibrate them) coverage {onTuning.Coverage:P1}, mean size {onTuning.MeanSetSize:F2}");
        }
        string outPath = Path.GetFullPath(settings.Out);
        Directory.CreateDirectory(Path.GetDirectoryName(outPath)!);
        var saveClock = System.Diagnostics.Stopwatch.StartNew();
        BayesianModel.Save(ml, pipeline, split.TrainSet.Schema, outPath, rule);
        AnsiConsole.MarkupLine($"saved {Markup.Escape(outPath)} ({new FileInfo(outPath).Length / 1e6:F1} MB) in {saveClock.Elapsed.TotalSeconds:F1} s");

        var training = model.Report;
        var table = new Table().AddColumns("measure", "value");
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        table.AddRow("validation accuracy", F(report.Classification.Accuracy, "P2"));
        table.AddRow("validation NLL", F(report.Classification.Nll, "F4"));
        table.AddRow("validation ECE", F(report.Classification.Ece, "F4"));
        if (training.Posterior is { } p)
        {
            table.AddRow("components / outliers", $"{p.Components} / {p.Outliers:N0}");
            table.AddRow("trainable parameters", $"{training.SharedParameters:N0} ({F(training.CompressionVsDeterministic, "F1")}x fewer than deterministic)");
        }
        table.AddRow("review rule", Markup.Escape(rule.ToString()));
        if (reviewed is not null)
        {
            var (accuracy, unknownFlagged) = reviewed.Measure(ml, pipeline, BayesianModel.Inspect(outPath).Labels, rule);
            string Share(double v) => double.IsNaN(v) ? "none" : F(v, "P1");
            table.AddRow($"reviewed images ({reviewed.Labelled.Count}): accuracy, old model -> new (trained on them)", $"{Share(reviewed.AccuracyBefore)} -> {Share(accuracy)}");
            table.AddRow($"unknown images ({reviewed.Unknown.Count}): flagged by the review rule, old -> new", $"{Share(reviewed.UnknownFlaggedBefore)} -> {Share(unknownFlagged)}");
        }
        table.AddRow("model", Markup.Escape(outPath));
        AnsiConsole.Write(table);
        model.Dispose();
        return 0;
    }
}
