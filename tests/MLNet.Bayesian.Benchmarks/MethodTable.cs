using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Issue 33 part 3, the method table: over several seeds and batch sizes, the deterministic network scored by Energy and by
/// FeatureDistance (and by predictive entropy and confidence) against 2DGBNN, shared and hierarchical variant, by each
/// uncertainty score. The deterministic network with Energy is the bar a Bayesian score has to beat.
/// <para>
/// Data: Fashion-MNIST (the full set, or its first images per class with --train-images / --test-images; --quick: the
/// committed subset) with two classes held out (--unseen-classes, default Sandal and Bag): the models train on the other
/// eight, labels 0..7. 20% of the eight-class training images (stratified, seeded by the run's seed) are held out and
/// halved: "tune" is the trainer's validation set (it fits the posterior scale tau there and runs the stage-0 guard on it),
/// "calibrate" only fits the conformal sets (LAC, coverage 0.9), whose coverage and mean size are measured on the
/// in-distribution test images. The guard runs with <see cref="WorseThanStage0.Warn"/>: the Bayesian model is measured as
/// trained, and whether the guard would have put stage 0 in its place (its warning in the log) is recorded.
/// </para>
/// <para>
/// Per (seed, batch): 2DGBNN is trained twice with the same seed, variant Shared and variant Hierarchical, with the library's
/// defaults otherwise. The deterministic method is stage 0 of the Shared run, scored inside
/// <see cref="BayesianTrainer.StageCompleted"/> at S = 1 (the trainer restores LibTorch's random state after the callback, the
/// feature taps pass training through, and later stages refit the feature Gaussians, so training goes on unchanged; the
/// Hierarchical run checks that its stage 0 has the same weights). Unfamiliar sets, each against the in-distribution test
/// images, by OOD AUROC of every score: scikit-learn's digits at 28x28, the same inverted (1 - v), the in-distribution test
/// images rotated 180 degrees, and the test images of the two held-out classes.
/// </para>
/// Writes &lt;out&gt;/method-table.json (every per-seed number) and &lt;out&gt;/method-table.md (mean ± sd over seeds), after
/// every (seed, batch) so that a run cut short leaves what it finished.
/// </summary>
internal static class MethodTable
{
    /// <summary>
    /// The full-data default sizes (over all ten classes, before the held-out two are removed): 12,800 images to train, 1,600 tune,
    /// 1,600 calibrate, 4,000 in-distribution test. Measured on 2 CPU cores (AMD EPYC, 2 TorchSharp threads), epochs 3,1,1, S = 30:
    /// 172 to 218 s per (seed, batch) cell (the two 2DGBNN runs and the deterministic evaluation), 9.5 min per seed, about 29 min
    /// for the default 3 seeds x 3 batch sizes; 30,000 / 5,000 would take about a quarter longer.
    /// </summary>
    public const int DefaultTrainImages = 20_000, DefaultTestImages = 5_000;

    /// <summary>Sandal (5) and Bag (8): a near-unfamiliar class (footwear, as Sneaker and Ankle-boot are) and a far one (no other class is like it).</summary>
    public static readonly int[] DefaultUnseenClasses = { 5, 8 };

    /// <summary>Share of the eight-class training images held out (then halved into tune and calibrate).</summary>
    public const double HeldOutFraction = 0.2;

    /// <summary>Nominal coverage of the conformal sets.</summary>
    public const double Coverage = 0.9;

    public sealed record Settings(bool Quick, int[] Seeds, int[] BatchSizes, int[] Epochs, int Samples, int? TrainImages, int? TestImages,
        int[] UnseenClasses, string OutDir, string CommandLine);

    /// <summary>The deterministic network's scores, then 2DGBNN's (in the order of the tables).</summary>
    static readonly UncertaintyScore[] DeterministicScores =
        { UncertaintyScore.Energy, UncertaintyScore.FeatureDistance, UncertaintyScore.PredictiveEntropy, UncertaintyScore.Confidence };
    static readonly UncertaintyScore[] BayesianScores =
    {
        UncertaintyScore.PredictiveEntropy, UncertaintyScore.MutualInformation, UncertaintyScore.ExpectedEntropy, UncertaintyScore.Energy,
        UncertaintyScore.FeatureDistance, UncertaintyScore.Confidence,
    };

    const string Deterministic = "det", Shared = "shared", Hierarchical = "hierarchical";
    static readonly string[] Methods = { Deterministic, Shared, Hierarchical };
    const string DigitsPath = "tests/data/digits/digits.csv.gz", Subset = "tests/data/fashion-mnist-subset";

    sealed record OodSet(string Name, string Description, ImageSet Images);

    sealed record Data(string Name, ImageSet Fit, ImageSet Tune, ImageSet Calibrate, ImageSet Test, IReadOnlyList<OodSet> Ood);

    public sealed record OodResult(string Set, string Score, double Auroc, double Aupr, double FprAt95Tpr);

    /// <summary>One method at one (seed, batch).</summary>
    public sealed record Run(int Seed, int BatchSize, string Method, int Samples, double Accuracy, double Nll, double Ece, double Brier,
        double ConformalCoverage, double ConformalMeanSetSize, double ConformalEmptyShare, double ConformalThreshold,
        double? PosteriorScale, double? Stage0TuneAccuracy, double? Stage0TuneNll, double? FinalTuneAccuracy, double? FinalTuneNll,
        bool? GuardWouldKeepStage0, bool? Stage0SameAsShared, bool? FlatSigmaFallback, double TrainSeconds, double EvaluateSeconds,
        IReadOnlyList<OodResult> Ood);

    public sealed record Header(string Command, string Date, string Commit, string Dataset, string Architecture, int[] Epochs, int Samples,
        int[] Seeds, int[] BatchSizes, int[] UnseenClasses, string[] UnseenClassNames, string[] TrainedClassNames,
        int FitImages, int TuneImages, int CalibrateImages, int TestImages, IReadOnlyDictionary<string, int> OodImages,
        double ConformalCoverage, string ConformalMethod, string WhenWorseThanStage0, int FeatureFitImages, int Threads, int LogicalCpus, string Cpu);

    public sealed record Output(Header Header, IReadOnlyList<Run> Runs, double TotalSeconds, bool Finished);

    public static void Execute(Settings settings)
    {
        if (settings.UnseenClasses.Length == 0 || settings.UnseenClasses.Distinct().Count() != settings.UnseenClasses.Length)
            throw new ArgumentException("--unseen-classes takes distinct class indices, e.g. 5,8.");
        if (settings.Seeds.Length == 0 || settings.BatchSizes.Length == 0 || settings.BatchSizes.Any(b => b < 1))
            throw new ArgumentException("--seeds and --batch-sizes take at least one value (batch sizes positive).");
        Directory.CreateDirectory(settings.OutDir);
        var clock = Stopwatch.StartNew();
        var (train10, test10, name) = Load(settings);
        var runs = new List<Run>();
        Header? header = null;
        int cells = settings.Seeds.Length * settings.BatchSizes.Length, done = 0;
        foreach (int seed in settings.Seeds)
        {
            var data = Prepare(train10, test10, name, settings.UnseenClasses, seed);
            header ??= MakeHeader(settings, data, train10.ClassNames);
            foreach (int batch in settings.BatchSizes)
            {
                var cellClock = Stopwatch.StartNew();
                runs.AddRange(TrainCell(settings, data, seed, batch));
                done++;
                double perCell = clock.Elapsed.TotalSeconds / done;
                Console.WriteLine($"method table: seed {seed}, batch {batch} done in {cellClock.Elapsed.TotalSeconds:F0} s; {done}/{cells} cells, " +
                                  $"{clock.Elapsed.TotalMinutes:F1} min so far, about {perCell * (cells - done) / 60:F0} min left");
                Write(settings.OutDir, new Output(header, runs, clock.Elapsed.TotalSeconds, done == cells));
            }
        }
        Console.WriteLine(File.ReadAllText(Path.Combine(settings.OutDir, "method-table.md")));
    }

    static (ImageSet Train, ImageSet Test, string Name) Load(Settings s)
    {
        var (name, train, test) = s.Quick
            ? ("fashion-mnist-subset", FashionMnist.Load(train: true, Subset), FashionMnist.Load(train: false, Subset))
            : ("fashion-mnist", FashionMnist.Load(train: true, null), FashionMnist.Load(train: false, null));
        int? trainImages = s.TrainImages ?? (s.Quick ? null : DefaultTrainImages);
        int? testImages = s.TestImages ?? (s.Quick ? null : DefaultTestImages);
        if (trainImages is int n) train = train.StratifiedHead(Math.Max(1, n / train.ClassNames.Count));
        if (testImages is int m) test = test.StratifiedHead(Math.Max(1, m / test.ClassNames.Count));
        foreach (int c in s.UnseenClasses)
            if (c < 0 || c >= train.ClassNames.Count) throw new ArgumentException($"--unseen-classes: {c} is not a class index 0 to {train.ClassNames.Count - 1}.");
        if (train.ClassNames.Count - s.UnseenClasses.Length < 2) throw new ArgumentException("--unseen-classes must leave at least two classes to train on.");
        bool head = !s.Quick || s.TrainImages is not null || s.TestImages is not null;
        return (train, test, $"{name} ({(head ? "the first images of each class: " : "")}{train.Count:N0} train / {test.Count:N0} test images over all 10 classes, " +
                             "before the held-out classes are taken out)");
    }

    /// <summary>The trained classes' images with labels 0..K-1 (names kept), and the held-out classes' images (their own labels).</summary>
    static (ImageSet Kept, ImageSet Unseen) SplitClasses(ImageSet set, int[] unseen)
    {
        var kept = Enumerable.Range(0, set.ClassNames.Count).Where(c => !unseen.Contains(c)).ToArray();
        var remap = Enumerable.Repeat(-1, set.ClassNames.Count).ToArray();
        for (int i = 0; i < kept.Length; i++) remap[kept[i]] = i;
        var inside = Enumerable.Range(0, set.Count).Where(i => remap[set.Labels[i]] >= 0).ToArray();
        var selected = set.Select(inside);
        var keptSet = new ImageSet(selected.Pixels, selected.Labels.Select(l => remap[l]).ToArray(), set.Channels, set.Height, set.Width,
            kept.Select(c => set.ClassNames[c]).ToArray());
        return (keptSet, set.Select(Enumerable.Range(0, set.Count).Where(i => remap[set.Labels[i]] < 0).ToArray()));
    }

    static Data Prepare(ImageSet train10, ImageSet test10, string name, int[] unseen, int seed)
    {
        var (train, _) = SplitClasses(train10, unseen);
        var (test, unseenTest) = SplitClasses(test10, unseen);
        var (fit, heldOut) = train.StratifiedSplit(HeldOutFraction, seed);
        var (tune, calibrate) = heldOut.StratifiedSplit(0.5, seed);
        var digits = DigitsCsvReader.ReadResized(DigitsPath, test.Height);
        var inverted = new ImageSet(digits.Pixels.Select(v => 1 - v).ToArray(), digits.Labels, digits.Channels, digits.Height, digits.Width, digits.ClassNames);
        string unseenNames = string.Join(" and ", unseen.Select(c => test10.ClassNames[c]));
        var ood = new List<OodSet>
        {
            new("digits", "scikit-learn's 8x8 digits drawn at 28x28 (bright ink on dark ground, Fashion-MNIST's polarity)", digits),
            new("digits-inverted", "the same digits with pixels 1 - v (dark ink on a bright ground)", inverted),
            new("fashion-upside-down", "the in-distribution test images rotated 180 degrees (trousers and some tops look alike upside down)", ImageOps.Rotate(test, 180)),
            new("never-seen-classes", $"the test images of the held-out classes {unseenNames}", unseenTest),
        };
        return new Data(name, fit, tune, calibrate, test, ood);
    }

    static TrainerOptions Options(Settings s, int batch, int seed, SamplingVariant variant) => new()
    {
        DeterministicEpochs = s.Epochs[0], MeanFieldEpochs = s.Epochs[1], SharedEpochs = s.Epochs[2], BatchSize = batch, Variant = variant,
        PredictionSamples = s.Samples, Seed = seed, WhenWorseThanStage0 = WorseThanStage0.Warn,
    };

    static IEnumerable<Run> TrainCell(Settings s, Data data, int seed, int batch)
    {
        var factory = ArchitectureFactory.Create(Architecture.SmallCnn);
        Run? det = null;
        double detSeconds = 0;
        List<double>? stage0 = null;
        var results = new List<Run>();
        foreach (var variant in new[] { SamplingVariant.Shared, SamplingVariant.Hierarchical })
        {
            string method = variant == SamplingVariant.Shared ? Shared : Hierarchical;
            var options = Options(s, batch, seed, variant);
            bool guardWarned = false;
            var trainer = new BayesianTrainer(options, line =>
            {
                Console.WriteLine($"  [seed {seed} batch {batch} {method}] {line}");
                if (line.StartsWith("warning: the finished", StringComparison.Ordinal)) guardWarned = true;
            });
            bool? sameStage0 = null;
            trainer.StageCompleted = (classifier, stage) =>
            {
                if (stage != BayesianStage.Deterministic) return;
                if (variant == SamplingVariant.Shared)
                {
                    stage0 = Checksums(classifier);
                    var detClock = Stopwatch.StartNew();
                    classifier.FitFeatureGaussians(BayesianTrainer.FeatureFitSubset(data.Fit, options.FeatureFitImages, seed), 1, seed);
                    var v = classifier.Report.Stages.FirstOrDefault(st => st.Stage == BayesianStage.Deterministic)?.Validation;
                    det = Evaluate(classifier, data, seed, batch, Deterministic, 1, DeterministicScores) with
                    {
                        Stage0TuneAccuracy = v?.Accuracy, Stage0TuneNll = v?.Nll,
                    };
                    detSeconds = detClock.Elapsed.TotalSeconds;
                    det = det with { EvaluateSeconds = detSeconds };
                    Console.WriteLine($"  [seed {seed} batch {batch}] {Summary(det)}");
                }
                else sameStage0 = stage0 is not null && Checksums(classifier).SequenceEqual(stage0);
            };
            var trainClock = Stopwatch.StartNew();
            using var model = trainer.Fit(factory, data.Fit, data.Tune);
            double trainSeconds = trainClock.Elapsed.TotalSeconds - (variant == SamplingVariant.Shared ? detSeconds : 0);
            if (variant == SamplingVariant.Shared && det is not null)
            {
                // Stage 0's share of the Shared run's training time is not split out: the deterministic row carries the whole run's.
                results.Add(det with { TrainSeconds = trainSeconds });
            }
            var report = model.Report;
            var s0 = report.Stages.FirstOrDefault(st => st.Stage == BayesianStage.Deterministic)?.Validation;
            ClassificationMetrics? final = report.FinalValidation is { } rows
                ? ClassificationMetrics.Compute(rows.Probabilities, rows.Labels, rows.Classes) : null;
            var evalClock = Stopwatch.StartNew();
            var run = Evaluate(model, data, seed, batch, method, s.Samples, BayesianScores);
            run = run with
            {
                PosteriorScale = model.Network.PosteriorScale, Stage0TuneAccuracy = s0?.Accuracy, Stage0TuneNll = s0?.Nll,
                FinalTuneAccuracy = final?.Accuracy, FinalTuneNll = final?.Nll, GuardWouldKeepStage0 = guardWarned,
                Stage0SameAsShared = variant == SamplingVariant.Hierarchical ? sameStage0 : null, FlatSigmaFallback = report.FlatSigmaFallbackUsed,
                TrainSeconds = trainSeconds, EvaluateSeconds = evalClock.Elapsed.TotalSeconds,
            };
            Console.WriteLine($"  [seed {seed} batch {batch}] {Summary(run)}");
            results.Add(run);
        }
        return results;
    }

    static string Summary(Run r) => string.Create(CultureInfo.InvariantCulture,
        $"{r.Method} (S = {r.Samples}): accuracy {100 * r.Accuracy:F2}%, NLL {r.Nll:F4}, ECE {r.Ece:F4}, conformal coverage {r.ConformalCoverage:F3} " +
        $"(mean set {r.ConformalMeanSetSize:F2}){(r.PosteriorScale is double t ? $", tau {t:G3}" : "")}; OOD AUROC " +
        $"{string.Join(", ", r.Ood.GroupBy(o => o.Set).Select(g => $"{g.Key}: " + string.Join(" ", g.Select(o => $"{Short(o.Score)} {F(o.Auroc, "F3")}"))))}");

    static string Short(string score) => score switch
    {
        nameof(UncertaintyScore.PredictiveEntropy) => "H",
        nameof(UncertaintyScore.MutualInformation) => "MI",
        nameof(UncertaintyScore.ExpectedEntropy) => "EH",
        nameof(UncertaintyScore.Energy) => "E",
        nameof(UncertaintyScore.FeatureDistance) => "FD",
        _ => "conf",
    };

    /// <summary>Scores calibrate (fits the conformal sets), test and every unfamiliar set with the same seeded draws.</summary>
    static Run Evaluate(BayesianImageClassifier classifier, Data data, int seed, int batch, string method, int samples, UncertaintyScore[] scores)
    {
        var clock = Stopwatch.StartNew();
        int classes = classifier.ClassNames.Count;
        var calibrate = classifier.Predict(data.Calibrate.Pixels, samples, batchSize: 256, seed: seed);
        var conformal = ConformalCalibration.Fit(calibrate, data.Calibrate.Labels,
            new ConformalCalibration.Options { Method = ConformalMethod.Lac, Coverage = Coverage });
        var test = classifier.Predict(data.Test.Pixels, samples, batchSize: 256, seed: seed);
        var metrics = ClassificationMetrics.Compute(test.Probabilities, data.Test.Labels, classes);
        var sets = conformal.Evaluate(test.Probabilities, data.Test.Labels);
        var testRows = ScoredRows.From(test, data.Test.Labels);
        var ood = new List<OodResult>();
        foreach (var set in data.Ood)
        {
            var prediction = classifier.Predict(set.Images.Pixels, samples, batchSize: 256, seed: seed);
            // The library's evaluation path: AUROC with the OOD images as positives, each score turned so that high means unsure.
            var report = UncertaintyEvaluator.Evaluate(testRows, Coverage, ScoredRows.From(prediction, Enumerable.Repeat(-1, prediction.Count).ToArray()));
            foreach (var score in scores)
            {
                var m = report.OutOfDistribution![score];
                ood.Add(new OodResult(set.Name, score.ToString(), m.Auroc, m.Aupr, m.FprAt95Tpr));
            }
        }
        return new Run(seed, batch, method, samples, metrics.Accuracy, metrics.Nll, metrics.Ece, metrics.Brier,
            sets.Coverage, sets.MeanSetSize, sets.EmptyShare, conformal.Threshold, null, null, null, null, null, null, null, null, 0,
            clock.Elapsed.TotalSeconds, ood);
    }

    /// <summary>One number per state-dict entry: equal lists mean equal weights (to the rounding of the sum).</summary>
    static List<double> Checksums(BayesianImageClassifier classifier)
    {
        using var scope = NewDisposeScope();
        return classifier.Network.state_dict().Values.Select(t => t.to_type(ScalarType.Float64).sum().item<double>()).ToList();
    }

    static Header MakeHeader(Settings s, Data d, IReadOnlyList<string> allClasses) => new(
        "dotnet run -c Release --project tests/MLNet.Bayesian.Benchmarks -- " + s.CommandLine,
        DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), ResultsWriter.Commit(), d.Name, nameof(Architecture.SmallCnn),
        s.Epochs, s.Samples, s.Seeds, s.BatchSizes, s.UnseenClasses, s.UnseenClasses.Select(c => allClasses[c]).ToArray(), d.Fit.ClassNames.ToArray(),
        d.Fit.Count, d.Tune.Count, d.Calibrate.Count, d.Test.Count, d.Ood.ToDictionary(o => o.Name, o => o.Images.Count),
        Coverage, nameof(ConformalMethod.Lac), nameof(WorseThanStage0.Warn), new TrainerOptions().FeatureFitImages, get_num_threads(),
        Environment.ProcessorCount, ResultsWriter.Cpu());

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    static void Write(string outDir, Output output)
    {
        File.WriteAllText(Path.Combine(outDir, "method-table.json"), JsonSerializer.Serialize(output, Json));
        File.WriteAllText(Path.Combine(outDir, "method-table.md"), Markdown(output));
    }

    // ---- the markdown ----

    static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    static double Mean(IReadOnlyList<double> v) => v.Average();

    /// <summary>Sample standard deviation (n - 1); NaN for one value.</summary>
    static double Sd(IReadOnlyList<double> v) => v.Count < 2 ? double.NaN : Math.Sqrt(v.Sum(x => (x - v.Average()) * (x - v.Average())) / (v.Count - 1));

    static string MeanSd(IReadOnlyList<double> v, string format, double scale = 1)
    {
        if (v.Count == 0) return "-";
        var scaled = v.Select(x => x * scale).ToList();
        double sd = Sd(scaled);
        return double.IsNaN(sd) ? F(Mean(scaled), format) : $"{F(Mean(scaled), format)} ± {F(sd, format)}";
    }

    static string MethodName(string method) => method switch
    {
        Deterministic => "deterministic",
        Shared => "2DGBNN shared",
        _ => "2DGBNN hierarchical",
    };

    /// <summary>The rows of an OOD table: det+Energy, det+FeatureDistance, det's others, then shared and hierarchical by each score.</summary>
    static IEnumerable<(string Method, string Score)> Rows() =>
        DeterministicScores.Select(s => (Deterministic, s.ToString()))
            .Concat(new[] { Shared, Hierarchical }.SelectMany(m => BayesianScores.Select(s => (m, s.ToString()))));

    static string Label(string method, string score) => $"{method}+{score}";

    static string Markdown(Output o)
    {
        var h = o.Header;
        var runs = o.Runs;
        var seeds = runs.Select(r => r.Seed).Distinct().ToList();
        var batches = h.BatchSizes.Where(b => runs.Any(r => r.BatchSize == b)).ToList();
        var sb = new StringBuilder();
        sb.AppendLine("# Method table (issue 33 part 3): deterministic + Energy / FeatureDistance against 2DGBNN by each score");
        sb.AppendLine();
        if (!o.Finished)
        {
            sb.AppendLine($"**Partial: {runs.Select(r => (r.Seed, r.BatchSize)).Distinct().Count()} of {h.Seeds.Length * h.BatchSizes.Length} (seed, batch) cells done so far.**");
            sb.AppendLine();
        }
        sb.AppendLine($"Command: `{h.Command}`");
        sb.AppendLine();
        sb.AppendLine($"- Date {h.Date}, commit {h.Commit}; {h.Threads} TorchSharp threads on {h.LogicalCpus} logical CPUs ({h.Cpu}); " +
                      $"{F(o.TotalSeconds / 60, "F1")} min in all.");
        sb.AppendLine($"- Data: {h.Dataset}. Trained on 8 classes ({string.Join(", ", h.TrainedClassNames)}); held out, never seen in training: " +
                      $"{string.Join(" and ", h.UnseenClassNames)} (classes {string.Join(",", h.UnseenClasses)}).");
        sb.AppendLine($"- Per seed, the 8-class training images split (stratified, seeded by the seed): {h.FitImages:N0} to train, {h.TuneImages:N0} \"tune\" " +
                      $"(the trainer's validation set: it fits the posterior scale tau and runs the stage-0 guard there), {h.CalibrateImages:N0} \"calibrate\" " +
                      $"(only the conformal sets are fitted there: {h.ConformalMethod}, nominal coverage {F(h.ConformalCoverage, "F2")}). " +
                      $"{h.TestImages:N0} in-distribution test images.");
        sb.AppendLine($"- SmallCnn, epochs {string.Join(",", h.Epochs)} (deterministic, mean-field, shared), S = {h.Samples} for 2DGBNN, S = 1 for the deterministic network; " +
                      $"seeds {string.Join(",", h.Seeds)}; batch sizes {string.Join(",", h.BatchSizes)}; feature Gaussians fitted on up to {h.FeatureFitImages:N0} training images " +
                      "(the library's default), the deterministic network's on the same images at S = 1. The deterministic network is stage 0: it trained " +
                      $"{h.Epochs[0]} epochs, 2DGBNN {h.Epochs.Sum()} in all (stages 0, 1 and 3).");
        sb.AppendLine($"- WhenWorseThanStage0 = {h.WhenWorseThanStage0}: the Bayesian models are measured as trained, never replaced by stage 0 " +
                      "(\"guard\" below: on how many seeds the default KeepStage0 would have replaced the model).");
        sb.AppendLine("- deterministic = stage 0 of the Shared run at the same seed and batch (the Hierarchical run's stage 0 has the same weights: checked, see below), " +
                      "scored inside the trainer's StageCompleted callback.");
        sb.AppendLine("- Unfamiliar sets (each against the in-distribution test images, OOD AUROC; the OOD images are the positives): " +
                      string.Join("; ", h.OodImages.Select(kv => $"{kv.Key} ({kv.Value:N0} images)")) + ".");
        sb.AppendLine("- Cells: mean ± sample sd over the seeds.");
        sb.AppendLine();

        // (a) in distribution
        sb.AppendLine("## In distribution (8-class test images)");
        sb.AppendLine();
        sb.AppendLine($"| method | batch | accuracy % | NLL | ECE | conformal coverage | mean set size | tau | guard | train s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var method in Methods)
            foreach (int b in batches)
            {
                var rs = runs.Where(r => r.Method == method && r.BatchSize == b).ToList();
                if (rs.Count == 0) continue;
                string tau = method == Deterministic ? "-" : MeanSd(rs.Select(r => r.PosteriorScale ?? double.NaN).ToList(), "G3");
                string guard = method == Deterministic ? "-" : $"{rs.Count(r => r.GuardWouldKeepStage0 == true)}/{rs.Count}";
                string train = method == Deterministic ? "-" : MeanSd(rs.Select(r => r.TrainSeconds).ToList(), "F0");
                sb.AppendLine($"| {MethodName(method)} | {b} | {MeanSd(rs.Select(r => r.Accuracy).ToList(), "F2", 100)} | {MeanSd(rs.Select(r => r.Nll).ToList(), "F4")} | " +
                              $"{MeanSd(rs.Select(r => r.Ece).ToList(), "F4")} | {MeanSd(rs.Select(r => r.ConformalCoverage).ToList(), "F3")} | " +
                              $"{MeanSd(rs.Select(r => r.ConformalMeanSetSize).ToList(), "F2")} | {tau} | {guard} | {train} |");
            }
        sb.AppendLine();
        var hier = runs.Where(r => r.Method == Hierarchical).ToList();
        sb.AppendLine($"Hierarchical run's stage 0 identical to the Shared run's: {hier.Count(r => r.Stage0SameAsShared == true)} of {hier.Count} runs. " +
                      "guard: runs on which the finished model was worse than stage 0 on tune by the guard's margins. train s: the whole run (stages 0 to 3, " +
                      "tau fit, feature fit), the deterministic evaluation left out.");
        sb.AppendLine();

        // (b) OOD tables
        foreach (var set in h.OodImages.Keys)
        {
            sb.AppendLine($"## OOD AUROC: {set} ({h.OodImages[set]:N0} images)");
            sb.AppendLine();
            sb.AppendLine("| method + score | " + string.Join(" | ", batches.Select(b => $"batch {b}")) + " | " +
                          string.Join(" | ", batches.Select(b => $"wins vs det+Energy @{b}")) + " |");
            sb.AppendLine("|---|" + string.Concat(batches.Select(_ => "---|")) + string.Concat(batches.Select(_ => "---|")));
            var best = batches.ToDictionary(b => b, b => Rows().Select(r => Means(runs, set, r.Method, r.Score, b)).Where(m => !double.IsNaN(m)).DefaultIfEmpty(double.NaN).Max());
            foreach (var (method, score) in Rows())
            {
                var cells = batches.Select(b =>
                {
                    var v = Aurocs(runs, set, method, score, b);
                    string text = MeanSd(v, "F3");
                    return v.Count > 0 && Mean(v) == best[b] ? $"**{text}**" : text;
                });
                var wins = batches.Select(b => method == Deterministic ? "-" : WinsText(runs, set, method, score, b));
                sb.AppendLine($"| {Label(method, score)} | {string.Join(" | ", cells)} | {string.Join(" | ", wins)} |");
            }
            sb.AppendLine();
        }
        sb.AppendLine("Bold: the best mean in the column. wins vs det+Energy: on how many seeds the score's AUROC is above the deterministic network's by Energy, " +
                      "same seed and batch.");
        sb.AppendLine();

        // (c) summary
        sb.AppendLine("## Summary (written by the benchmark)");
        sb.AppendLine();
        foreach (var set in h.OodImages.Keys)
        {
            foreach (int b in batches)
            {
                var scored = Rows().Select(r => (r.Method, r.Score, Mean: Means(runs, set, r.Method, r.Score, b))).Where(r => !double.IsNaN(r.Mean)).ToList();
                if (scored.Count == 0) continue;
                var top = scored.MaxBy(r => r.Mean);
                var bayes = scored.Where(r => r.Method != Deterministic).MaxBy(r => r.Mean);
                double bar = Means(runs, set, Deterministic, nameof(UncertaintyScore.Energy), b);
                string line = $"- {set}, batch {b}: best {Label(top.Method, top.Score)} {F(top.Mean, "F3")}";
                if (bayes.Method is not null)
                {
                    var (won, n) = Wins(runs, set, bayes.Method, bayes.Score, b);
                    line += $"; best 2DGBNN {Label(bayes.Method, bayes.Score)} {F(bayes.Mean, "F3")} against det+Energy {F(bar, "F3")} " +
                            $"({(bayes.Mean - bar >= 0 ? "+" : "")}{F(bayes.Mean - bar, "F3")}, above it on {won}/{n} seeds)";
                    var always = Rows().Where(r => r.Method != Deterministic && Wins(runs, set, r.Method, r.Score, b) is var w && w.N > 0 && w.Won == w.N)
                        .Select(r => Label(r.Method, r.Score)).ToList();
                    line += always.Count == 0 ? "; no 2DGBNN score beats det+Energy on every seed" : $"; beating det+Energy on every seed: {string.Join(", ", always)}";
                }
                sb.AppendLine(line + ".");
            }
        }
        sb.AppendLine();
        var everywhere = Rows().Where(r => r.Method != Deterministic && h.OodImages.Keys.All(set => batches.All(b => Wins(runs, set, r.Method, r.Score, b) is var w && w.N > 0 && w.Won == w.N)))
            .Select(r => Label(r.Method, r.Score)).ToList();
        sb.AppendLine(everywhere.Count == 0
            ? "No 2DGBNN score beats det+Energy on every seed, every batch size and every unfamiliar set."
            : $"2DGBNN scores that beat det+Energy on every seed, batch size and unfamiliar set: {string.Join(", ", everywhere)}.");
        return sb.ToString();
    }

    static List<double> Aurocs(IReadOnlyList<Run> runs, string set, string method, string score, int batch) =>
        runs.Where(r => r.Method == method && r.BatchSize == batch)
            .SelectMany(r => r.Ood.Where(x => x.Set == set && x.Score == score).Select(x => x.Auroc)).ToList();

    static double Means(IReadOnlyList<Run> runs, string set, string method, string score, int batch) =>
        Aurocs(runs, set, method, score, batch) is { Count: > 0 } v ? Mean(v) : double.NaN;

    /// <summary>Seeds on which the score's AUROC is above det+Energy's (same seed and batch), of the seeds that have both.</summary>
    static (int Won, int N) Wins(IReadOnlyList<Run> runs, string set, string method, string score, int batch)
    {
        int won = 0, n = 0;
        foreach (var r in runs.Where(r => r.Method == method && r.BatchSize == batch))
        {
            var bar = runs.FirstOrDefault(d => d.Method == Deterministic && d.BatchSize == batch && d.Seed == r.Seed)?.Ood
                .FirstOrDefault(x => x.Set == set && x.Score == nameof(UncertaintyScore.Energy));
            var mine = r.Ood.FirstOrDefault(x => x.Set == set && x.Score == score);
            if (bar is null || mine is null) continue;
            n++;
            if (mine.Auroc > bar.Auroc) won++;
        }
        return (won, n);
    }

    static string WinsText(IReadOnlyList<Run> runs, string set, string method, string score, int batch)
    {
        var (won, n) = Wins(runs, set, method, score, batch);
        return n == 0 ? "-" : $"{won}/{n}";
    }
}
