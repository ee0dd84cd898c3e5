using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Issue 28's measurements: a pretrained backbone against training from scratch, the deterministic network (stage 0 of
/// the same run, with its Energy and FeatureDistance) against the finished 2DGBNN model, on
/// <list type="bullet">
/// <item>the colour set of eng/make-stamps-dataset.py (a few hundred drawings of varied sizes, 8 classes; its 3 unseen
/// classes are the unfamiliar images): from scratch (SmallCnn at 64 x 64), frozen backbone, backbone with its last stage
/// fine-tuned;</item>
/// <item>Fashion-MNIST with 100 and 1,000 labelled images per class (the 8x8 digits are the unfamiliar images): from scratch
/// and frozen backbone.</item>
/// </list>
/// Each run holds out 20% of its training images for validation (posterior scale, stage-0 guard, review rule at 90%
/// coverage). Written: transfer.json and transfer.md (the tables the README quotes).
/// </summary>
internal static class TransferBenchmark
{
    public sealed record Row(string Data, string Network, string Model, int TrainImages, double Accuracy, double Nll, double Ece,
        double RuleKept, double RuleAccuracyOfKept, double UnfamiliarFlagged, double? RuleAuroc, IReadOnlyDictionary<string, double> AurocByScore,
        double TrainSeconds, string? Note);

    public sealed record Timing(string What, double Value, string Unit);

    sealed record Split(string Name, ImageSet Train, ImageSet Validation, ImageSet Test, ImageSet Unfamiliar, string UnfamiliarName);

    /// <summary>
    /// Runs <paramref name="part"/> ("colour", "fashion" or null for both) and writes transfer[-part].json and .md, again after
    /// every pair of rows so that a run stopped half way keeps what it measured.
    /// </summary>
    public static void Run(string stampsFolder, bool quick, int seed, string outDir, string? part = null)
    {
        Directory.CreateDirectory(outDir);
        var rows = new ObservedRows();
        var timings = new List<Timing>();
        var clock = Stopwatch.StartNew();
        string name = part is null ? "transfer" : $"transfer-{part}";
        rows.Added += () => Write(rows, timings, outDir, quick, seed, name);
        if (part is null or "colour") RunColour(stampsFolder, quick, seed, rows, timings);
        if (part is null or "fashion") RunFashion(quick, seed, rows, timings);
        timings.Add(new("whole benchmark", clock.Elapsed.TotalMinutes, "min"));
        Write(rows, timings, outDir, quick, seed, name);
    }

    /// <summary>Rows that say when some are added.</summary>
    sealed class ObservedRows : List<Row>
    {
        public event Action? Added;
        public void AddPair(IEnumerable<Row> rows) { AddRange(rows); Added?.Invoke(); }
    }

    static void RunColour(string stampsFolder, bool quick, int seed, ObservedRows rows, List<Timing> timings)
    {
        // The colour set at the backbone's size (its pixels, 3 x 224 x 224, are what a frozen backbone featurizes) and at 64 x 64.
        var stamps224 = StampsAt(stampsFolder, 224, seed);
        var stamps64 = StampsAt(stampsFolder, 64, seed);
        Console.WriteLine($"colour set: {stamps224.Train.Count} train / {stamps224.Validation.Count} validation / {stamps224.Test.Count} test, {stamps224.Unfamiliar.Count} unseen-class images");
        var epochs = quick ? (Scratch: (5, 1, 1), Head: (10, 1, 1), Tune: (1, 1, 1)) : (Scratch: (30, 5, 5), Head: (30, 5, 5), Tune: (5, 2, 2));
        int samples = quick ? 8 : 30;

        rows.AddPair(RunPair(stamps64, "from scratch (SmallCnn, 64x64)", epochs.Scratch, samples, seed, null, BackboneTraining.Frozen, timings));
        using (var frozen = ImageFeaturizer.Load(Backbone.ResNet18ImageNet, 224, null))
        {
            var featureClock = Stopwatch.StartNew();
            var featured = Featurize(stamps224, frozen);
            double perImage = featureClock.Elapsed.TotalMilliseconds / (stamps224.Train.Count + stamps224.Validation.Count + stamps224.Test.Count + stamps224.Unfamiliar.Count);
            timings.Add(new("ResNet-18 features of a 224x224 image, 2 cores, batches of 32", perImage, "ms"));
            rows.AddPair(RunPair(featured, "ResNet-18 frozen + head", epochs.Head, samples, seed, null, BackboneTraining.Frozen, timings));
        }
        if (!quick)
            using (var tuned = ImageFeaturizer.Load(Backbone.ResNet18ImageNet, 224, null, training: BackboneTraining.LastStage))
                rows.AddPair(RunPair(Featurize(stamps224, tuned), "ResNet-18 last stage fine-tuned + head", epochs.Tune, samples, seed, tuned, BackboneTraining.LastStage, timings));
    }

    static void RunFashion(bool quick, int seed, ObservedRows rows, List<Timing> timings)
    {
        int samples = quick ? 8 : 30;
        foreach (int perClass in quick ? new[] { 20 } : new[] { 100, 1000 })
        {
            var fashion = FashionAt(perClass, quick, seed);
            rows.AddPair(RunPair(fashion, "from scratch (SmallCnn, 28x28)", quick ? (2, 1, 1) : (10, 2, 2), samples, seed, null, BackboneTraining.Frozen, timings));
            using var frozen = ImageFeaturizer.Load(Backbone.ResNet18ImageNet, 224, null);
            rows.AddPair(RunPair(FeaturizeGray(fashion, frozen), "ResNet-18 frozen + head", quick ? (5, 1, 1) : (30, 5, 5), samples, seed, null, BackboneTraining.Frozen, timings));
        }
    }

    /// <summary>Trains one network through every stage and reports stage 0 (deterministic) and the finished model on the same data.</summary>
    static IEnumerable<Row> RunPair(Split data, string network, (int, int, int) epochs, int samples, int seed, ImageFeaturizer? tail, BackboneTraining training,
        List<Timing> timings)
    {
        var options = new TrainerOptions
        {
            DeterministicEpochs = epochs.Item1, MeanFieldEpochs = epochs.Item2, SharedEpochs = epochs.Item3, BatchSize = 32, PredictionSamples = samples, Seed = seed,
        };
        bool features = data.Train.IsFeatureVectors || tail is not null;
        if (features) (options.CropPadding, options.HorizontalFlip) = (0, false);
        if (data.Train.IsFeatureVectors) (options.NormalizeMean, options.NormalizeStd) = (null, null);
        if (tail is not null) (options.NormalizeMean, options.NormalizeStd) = (new[] { 0f }, new[] { 1f });
        NetworkFactory factory = tail is not null
            ? (_, _, _, k) => new BackboneTail(tail.CreateTail(), new FeatureHead(tail.TailFeatures, k))
            : data.Train.IsFeatureVectors ? ArchitectureFactory.Create(Architecture.Mlp) : ArchitectureFactory.Create(Architecture.SmallCnn);
        Row? deterministic = null;
        var log = new List<string>();
        var trainer = new BayesianTrainer(options, line => { log.Add(line); Console.WriteLine($"  [{data.Name} / {network}] {line}"); })
        {
            StageCompleted = (classifier, stage) =>
            {
                if (stage != BayesianStage.Deterministic) return;
                // Stage 0's own review rule and feature fit, as a deterministic model would be shipped.
                classifier.FitFeatureGaussians(BayesianTrainer.FeatureFitSubset(data.Train, options.FeatureFitImages, seed), 1, seed);
                deterministic = Evaluate(classifier, data, network, "deterministic (stage 0)", 1, seed, double.NaN, null);
            },
        };
        var clock = Stopwatch.StartNew();
        using var model = trainer.Fit(factory, data.Train, data.Validation);
        double seconds = clock.Elapsed.TotalSeconds;
        string? note = model.Report.KeptStage0Because is { } kept ? $"kept stage 0: {kept}" : model.Report.PosteriorScale is { } tau ? $"posterior scale {tau.Scale:G3}" : null;
        var final = Evaluate(model, data, network, model.Network.Stage == BayesianStage.Deterministic ? "2DGBNN -> stage 0 kept" : "2DGBNN shared", samples, seed, seconds, note);
        timings.Add(new($"{data.Name}, {network}: training (all stages, validation passes included)", seconds, "s"));
        return new[] { deterministic! with { TrainSeconds = seconds }, final };
    }

    static Row Evaluate(BayesianImageClassifier model, Split data, string network, string name, int samples, int seed, double seconds, string? note)
    {
        ScoredRows Score(ImageSet set) => ScoredRows.From(model.Predict(set.Pixels, samples, seed: seed), set.Labels);
        var validation = Score(data.Validation);
        var rule = UncertaintyEvaluator.FitReviewRule(validation, ReviewRule.DefaultScores.Where(s => validation.Scores[s].Distinct().Count() > 1).ToList(), coverage: 0.9);
        var test = Score(data.Test);
        var unfamiliar = ScoredRows.From(model.Predict(data.Unfamiliar.Pixels, samples, seed: seed), Enumerable.Repeat(-1, data.Unfamiliar.Count).ToArray());
        var report = UncertaintyEvaluator.Evaluate(test, 0.9, unfamiliar, rule);
        var auroc = report.OutOfDistribution!.Where(kv => !(kv.Key == UncertaintyScore.MutualInformation && samples == 1))
            .ToDictionary(kv => kv.Key.ToString(), kv => kv.Value.Auroc);
        var c = report.Classification;
        var figures = report.Rule!;
        Console.WriteLine($"== {data.Name} / {network} / {name}: accuracy {c.Accuracy:P2}, NLL {c.Nll:F4}, ECE {c.Ece:F4}; rule keeps {figures.Kept:P1} at {figures.AccuracyOfKept:P1}, " +
                          $"flags {figures.OutOfDistributionFlagged:P1} of {data.UnfamiliarName}; AUROC " + string.Join(", ", auroc.Select(kv => $"{kv.Key} {kv.Value:F3}")));
        return new Row(data.Name, network, name, data.Train.Count, c.Accuracy, c.Nll, c.Ece, figures.Kept, figures.AccuracyOfKept, figures.OutOfDistributionFlagged ?? double.NaN,
            figures.OutOfDistribution?.Auroc, auroc, seconds, note);
    }

    /// <summary>The colour set's images at <paramref name="size"/> x <paramref name="size"/> RGB, through the saved model's own preprocessing.</summary>
    static Split StampsAt(string folder, int size, int seed)
    {
        string Sub(string name) => Path.Combine(folder, name);
        if (!Directory.Exists(Sub("train")))
            throw new DirectoryNotFoundException($"'{Sub("train")}' does not exist: make the colour set first (/usr/bin/python3 eng/make-stamps-dataset.py {folder}).");
        var train = ReadFolder(Sub("train"), size, null);
        var test = ReadFolder(Sub("test"), size, train.ClassNames);
        var unseen = ReadFolder(Sub("unseen"), size, null);
        var (rest, validation) = train.StratifiedSplit(0.2, seed);
        return new Split("colour set (stamps)", rest, validation, test, unseen, "unseen-class images");
    }

    static ImageSet ReadFolder(string folder, int size, IReadOnlyList<string>? classNames)
    {
        var entries = ImageFolder.Read(folder);
        var names = classNames ?? entries.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        var ml = new MLContext();
        var spec = new ImageInputSpec("Image", ImageColumnKind.Image, 3, size, size, 1f);
        var chain = ImagePreprocessing.Fit(ml, spec, "Pixels");
        var pixels = new ImagePixels(chain, "Image", "Pixels");
        var values = new float[entries.Count * spec.Size];
        var labels = new int[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            using var image = MLImage.CreateFromFile(Path.Combine(folder, entries[i].ImagePath));
            pixels.Extract(image, values.AsSpan(i * spec.Size, spec.Size));
            int label = names.ToList().IndexOf(entries[i].Label);
            labels[i] = Math.Max(label, 0);
        }
        return new ImageSet(values, labels, 3, size, size, names);
    }

    static Split FashionAt(int perClass, bool quick, int seed)
    {
        var full = BenchmarkData.Load(quick);
        var train = full.Train.StratifiedHead(perClass);
        var (rest, validation) = train.StratifiedSplit(0.2, seed);
        var test = full.Test.StratifiedHead(quick ? 20 : 200);
        var digits = quick ? full.Ood.Select(Enumerable.Range(0, 200).ToArray()) : full.Ood;
        return new Split($"Fashion-MNIST, {perClass} per class", rest, validation, test, digits, "8x8 digits");
    }

    static Split Featurize(Split data, ImageFeaturizer featurizer) => data with
    {
        Train = Features(data.Train, featurizer), Validation = Features(data.Validation, featurizer), Test = Features(data.Test, featurizer),
        Unfamiliar = Features(data.Unfamiliar, featurizer),
    };

    static ImageSet Features(ImageSet set, ImageFeaturizer featurizer)
    {
        var (c, h, w) = featurizer.OutputShape;
        return new ImageSet(featurizer.Featurize(set.Pixels, set.Count), set.Labels, (int)c, (int)h, (int)w, set.ClassNames);
    }

    /// <summary>Gray 28 x 28 images through the backbone: enlarged to its size and repeated into three channels, a chunk at a time.</summary>
    static Split FeaturizeGray(Split data, ImageFeaturizer featurizer)
    {
        ImageSet Convert(ImageSet set)
        {
            var features = new List<float>();
            for (int start = 0; start < set.Count; start += 256)
            {
                var chunk = ImageOps.Resize(set.Select(Enumerable.Range(start, Math.Min(256, set.Count - start)).ToArray()), featurizer.InputSize, featurizer.InputSize);
                var rgb = new float[chunk.Count * 3 * chunk.ImageSize];
                for (int i = 0; i < chunk.Count; i++)
                    for (int ch = 0; ch < 3; ch++) chunk.Image(i).CopyTo(rgb.AsSpan((i * 3 + ch) * chunk.ImageSize, chunk.ImageSize));
                features.AddRange(featurizer.Featurize(rgb, chunk.Count));
            }
            var (c, h, w) = featurizer.OutputShape;
            return new ImageSet(features.ToArray(), set.Labels, (int)c, (int)h, (int)w, set.ClassNames);
        }
        return data with { Train = Convert(data.Train), Validation = Convert(data.Validation), Test = Convert(data.Test), Unfamiliar = Convert(data.Unfamiliar) };
    }

    static void Write(List<Row> rows, List<Timing> timings, string outDir, bool quick, int seed, string name)
    {
        var json = new { date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), quick, seed, threads = TorchSharp.torch.get_num_threads(), rows, timings };
        File.WriteAllText(Path.Combine(outDir, name + ".json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        var scores = new[] { "MutualInformation", "PredictiveEntropy", "Energy", "FeatureDistance" };
        var md = new List<string>
        {
            $"Written by `dotnet run -c Release --project tests/MLNet.Bayesian.Benchmarks -- --transfer{(quick ? " --quick" : "")}{(name == "transfer" ? "" : $" --part {name["transfer-".Length..]}")} --seed {seed}` " +
            $"on {json.date}, {json.threads} threads. Review rule: PredictiveEntropy, Energy and FeatureDistance (Fisher), fitted on the run's validation images at 90% coverage.",
            "",
            "| data | network | model | train images | accuracy | NLL | ECE | rule keeps (accuracy of kept) | unfamiliar flagged | rule AUROC | " + string.Join(" | ", scores.Select(s => $"AUROC {s}")) + " | note |",
            "|---|---|---|---|---|---|---|---|---|---|" + string.Concat(scores.Select(_ => "---|")) + "---|",
        };
        string F(double v, string format) => double.IsNaN(v) ? "-" : v.ToString(format, CultureInfo.InvariantCulture);
        foreach (var r in rows)
            md.Add($"| {r.Data} | {r.Network} | {r.Model} | {r.TrainImages} | {F(r.Accuracy, "P1")} | {F(r.Nll, "F3")} | {F(r.Ece, "F3")} | {F(r.RuleKept, "P0")} ({F(r.RuleAccuracyOfKept, "P1")}) | " +
                   $"{F(r.UnfamiliarFlagged, "P1")} | {F(r.RuleAuroc ?? double.NaN, "F3")} | " +
                   string.Join(" | ", scores.Select(s => r.AurocByScore.TryGetValue(s, out var v) ? F(v, "F3") : "-")) + $" | {r.Note ?? ""} |");
        md.Add("");
        md.Add("| timing | value |");
        md.Add("|---|---|");
        md.AddRange(timings.Select(t => $"| {t.What} | {t.Value.ToString("F1", CultureInfo.InvariantCulture)} {t.Unit} |"));
        File.WriteAllLines(Path.Combine(outDir, name + ".md"), md);
        Console.WriteLine($"(wrote {name}.md: {rows.Count} rows)");
    }
}
