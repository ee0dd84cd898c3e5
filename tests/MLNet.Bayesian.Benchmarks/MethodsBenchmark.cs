using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Plots;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// Deterministic, mean-field and 2DGBNN (both sampling variants) trained and evaluated on the same data with
/// the same architecture. The deterministic and mean-field methods are stages 0 and 1 of the first run
/// (variant shared), evaluated and saved as they finish; the second run (variant hierarchical) repeats
/// stages 0 and 1 with the same seed, which the benchmark checks reproduce the first run's weights exactly,
/// so both variants start stage 3 from the same mean-field posterior. Then the baselines: MC dropout and a deep
/// ensemble (MethodsBenchmark.Baselines.cs).
/// </summary>
internal sealed partial class MethodsBenchmark
{
    /// <summary><paramref name="Posterior"/>: how stage 2 builds the shared posterior (outlier rules, component budget).</summary>
    public sealed record Settings(Architecture Architecture, int DeterministicEpochs, int MeanFieldEpochs, int SharedEpochs,
        int Samples, int BatchSize, int Seed, string OutDir, SharedPosteriorOptions Posterior, Device Device, bool Quick);

    /// <summary>What one method's evaluation produced beyond its results.json row.</summary>
    public sealed record Evaluation(MethodResult Result, PredictiveDistribution Test, PredictiveDistribution Ood,
        IReadOnlyList<ReliabilityBin> Reliability, RiskCoverage RiskCoverage, double Temperature, double EceBeforeTemperature, double EceAfterTemperature);

    /// <summary><paramref name="InterleavedStepMs"/>: median bare step per method, the methods alternated step by step (see StepTimeBenchmark).</summary>
    public sealed record Outcome(IReadOnlyList<Evaluation> Methods, bool StagesReproduced, TrainingReport SharedReport, TrainingReport HierarchicalReport,
        double TrainSeconds, IReadOnlyDictionary<string, double> InterleavedStepMs, BaselineRuns Baselines, ScaleChoices Scales);

    readonly Settings _settings;
    readonly BenchmarkData _data;
    readonly MLContext _ml;
    readonly string _modelDir;

    public MethodsBenchmark(Settings settings, BenchmarkData data)
    {
        _settings = settings;
        _data = data;
        _ml = new MLContext(settings.Seed);
        _modelDir = Path.Combine(Path.GetTempPath(), $"mlnet-bayesian-benchmark-{Guid.NewGuid():N}");
    }

    public Outcome Run()
    {
        Directory.CreateDirectory(_modelDir);
        try
        {
            var clock = Stopwatch.StartNew();
            var evaluations = new List<Evaluation>();
            double deterministicStep = 0, deterministicRate = 0;
            List<double>? firstChecksums = null;
            PosteriorLayerPoints? plane = null;

            var scales = ChoosePosteriorScales();
            var first = NewTrainer(SamplingVariant.Shared, scales.ScaleOf("2dgbnn_shared"));
            first.StageCompleted = (classifier, stage) =>
            {
                if (stage == BayesianStage.Deterministic)
                {
                    deterministicStep = LastStepMs(classifier);
                    var e = Evaluate("deterministic", classifier, 1, classifier.Report.DeterministicParameters, deterministicStep, deterministicStep);
                    deterministicRate = e.Result.PredictImagesPerS;
                    evaluations.Add(e);
                }
                else if (stage == BayesianStage.MeanField)
                {
                    classifier.Network.PosteriorScale = scales.ScaleOf("mean_field");
                    evaluations.Add(Evaluate("mean_field", classifier, _settings.Samples, classifier.Report.MeanFieldParameters, LastStepMs(classifier), deterministicStep));
                    classifier.Network.PosteriorScale = 1;
                    // The paper's figure: the layer with most weights.
                    plane = classifier.Network.PosteriorPoints(null).MaxBy(l => l.Mu.Length);
                    firstChecksums = Checksums(classifier);
                }
            };
            using (var shared = first.Fit(ArchitectureFactory.Create(_settings.Architecture), _data.Train, null, _settings.Device))
            {
                evaluations.Add(Evaluate("2dgbnn_shared", shared, _settings.Samples, shared.Report.SharedParameters, LastStepMs(shared), deterministicStep));
                PosteriorPlanePlot.Draw(plane!, shared.Network.SharedPosterior!.Plan, Path.Combine(_settings.OutDir, "posterior-plane.png"));
                var sharedReport = shared.Report;

                bool reproduced = false;
                var second = NewTrainer(SamplingVariant.Hierarchical, scales.ScaleOf("2dgbnn_hierarchical"));
                second.StageCompleted = (classifier, stage) =>
                {
                    if (stage == BayesianStage.MeanField) reproduced = Checksums(classifier).SequenceEqual(firstChecksums!);
                };
                using var hierarchical = second.Fit(ArchitectureFactory.Create(_settings.Architecture), _data.Train, null, _settings.Device);
                evaluations.Add(Evaluate("2dgbnn_hierarchical", hierarchical, _settings.Samples, hierarchical.Report.SharedParameters, LastStepMs(hierarchical), deterministicStep));
                Console.WriteLine($"stages 0 and 1 of the second run reproduce the first run's weights: {(reproduced ? "yes" : "NO")}");
                var baselines = RunBaselines(evaluations, deterministicStep);
                var interleaved = InterleavedStepTimes(shared, hierarchical, baselines.DropoutRate);
                return new Outcome(evaluations, reproduced, sharedReport, hierarchical.Report, clock.Elapsed.TotalSeconds, interleaved, baselines, scales);
            }
        }
        finally
        {
            Directory.Delete(_modelDir, recursive: true);
        }
    }

    /// <summary>
    /// Step times of the methods measured alternately on one batch, after evaluation (the steps change the
    /// trained networks). Deterministic, mean-field and MC dropout (its dropout at <paramref name="dropoutRate"/>) use
    /// fresh networks of the same architecture: their step cost does not depend on the weights' values. A deep
    /// ensemble's step is a deterministic member's step (it takes M times the steps), so it is not measured apart.
    /// </summary>
    Dictionary<string, double> InterleavedStepTimes(BayesianImageClassifier shared, BayesianImageClassifier hierarchical, double dropoutRate)
    {
        var factory = ArchitectureFactory.Create(_settings.Architecture);
        var (c, h, w, k) = (_data.Train.Channels, _data.Train.Height, _data.Train.Width, _data.Train.ClassNames.Count);
        using var deterministic = new BayesianNetwork(factory(c, h, w, k));
        using var meanField = new BayesianNetwork(factory(c, h, w, k));
        meanField.ConvertToMeanField();
        using var mcDropout = new BayesianNetwork(factory(c, h, w, k));
        deterministic.to(_settings.Device);
        meanField.to(_settings.Device);
        mcDropout.to(_settings.Device);
        using var dropout = InputDropout.Install(mcDropout.Network, dropoutRate, mcDropout.TrainingNoise);
        int n = Math.Min(_settings.BatchSize, _data.Train.Count);
        using var x = shared.ToInput(_data.Train.Pixels.AsSpan(0, n * _data.Train.ImageSize), n);
        using var y = tensor(_data.Train.Labels.Take(n).Select(l => (long)l).ToArray()).to(_settings.Device);
        var medians = StepTimeBenchmark.Interleaved(new[]
        {
            ("deterministic", deterministic), ("mean_field", meanField), ("2dgbnn_shared", shared.Network), ("2dgbnn_hierarchical", hierarchical.Network),
            ("mc_dropout", mcDropout),
        }, x, y, 1.0 / _data.Train.Count, warmup: 5, rounds: 100);
        Console.WriteLine("interleaved bare steps: " + string.Join(", ", medians.Select(m => $"{m.Key} {m.Value:F1} ms")));
        return medians;
    }

    BayesianTrainer NewTrainer(SamplingVariant variant, double posteriorScale)
    {
        var options = Options(variant);
        options.PosteriorScale = posteriorScale;
        return new BayesianTrainer(options, line => Console.WriteLine($"  [{variant}] {line}"));
    }

    TrainerOptions Options(SamplingVariant variant) => new()
    {
        DeterministicEpochs = _settings.DeterministicEpochs, MeanFieldEpochs = _settings.MeanFieldEpochs, SharedEpochs = _settings.SharedEpochs,
        BatchSize = _settings.BatchSize, Variant = variant, PredictionSamples = _settings.Samples, Seed = _settings.Seed,
        SharedPosterior = _settings.Posterior,
    };

    static double LastStepMs(BayesianImageClassifier classifier) => classifier.Report.Stages[^1].MedianStepMilliseconds;

    /// <summary>One number per state-dict entry: equal lists mean (to float rounding of the sum) equal weights.</summary>
    static List<double> Checksums(BayesianImageClassifier classifier)
    {
        using var scope = NewDisposeScope();
        return classifier.Network.state_dict().Values.Select(t => t.to_type(ScalarType.Float64).sum().item<double>()).ToList();
    }

    Evaluation Evaluate(string method, BayesianImageClassifier classifier, int samples, long trainable, double stepMs, double deterministicStepMs)
    {
        // Stages 0 and 1 are scored in the middle of the 2DGBNN run, before the trainer fits the feature Gaussians at its end.
        if (classifier.FeatureGaussians is null)
            classifier.FitFeatureGaussians(BayesianTrainer.FeatureFitSubset(_data.Train, new TrainerOptions().FeatureFitImages, _settings.Seed), samples, _settings.Seed);
        Console.WriteLine($"evaluating {method} at S = {samples}");
        int classes = classifier.ClassNames.Count;
        var clock = Stopwatch.StartNew();
        var test = classifier.Predict(_data.Test.Pixels, samples, batchSize: 256, seed: _settings.Seed);
        double rate = _data.Test.Count / clock.Elapsed.TotalSeconds;
        double mlnetRate = ThroughMLNet(classifier, samples, _data.Test);
        // The ratio of the two on the first 2,000 test images, direct and through ML.NET alternated three times, the
        // best of each kept: on a shared machine a burst of load from other jobs moves single passes by 20% and more.
        var probe = _data.Test.Count > 2000 ? _data.Test.Select(Enumerable.Range(0, 2000).ToArray()) : _data.Test;
        double directBest = 0, mlnetBest = 0;
        for (int round = 0; round < 3; round++)
        {
            clock.Restart();
            classifier.Predict(probe.Pixels, samples, batchSize: 256, seed: _settings.Seed);
            directBest = Math.Max(directBest, probe.Count / clock.Elapsed.TotalSeconds);
            mlnetBest = Math.Max(mlnetBest, ThroughMLNet(classifier, samples, probe));
        }
        double mlnetRatio = mlnetBest / directBest;
        var ood = classifier.Predict(_data.Ood.Pixels, samples, batchSize: 256, seed: _settings.Seed);
        var rotated = classifier.Predict(_data.Rotated.Pixels, samples, batchSize: 256, seed: _settings.Seed);
        var noisy = classifier.Predict(_data.Noisy.Pixels, samples, batchSize: 256, seed: _settings.Seed);

        // The library's one evaluation path, as the command line's evaluate and EvaluateWithUncertainty use it.
        var testRows = ScoredRows.From(test, _data.Test.Labels);
        var report = UncertaintyEvaluator.Evaluate(testRows, 0.9, ScoredRows.From(ood, Enumerable.Repeat(-1, ood.Count).ToArray()));
        var metrics = report.Classification;
        var rotatedMetrics = ClassificationMetrics.Compute(rotated.Probabilities, _data.Rotated.Labels, classes);
        var noisyMetrics = ClassificationMetrics.Compute(noisy.Probabilities, _data.Noisy.Labels, classes);
        var riskCoverage = UncertaintyEvaluator.Curve(testRows, UncertaintyScore.Confidence);
        bool bayesian = samples > 1;
        var (temperature, before, after) = TemperatureScaled(test, classes);

        var result = new MethodResult
        {
            Method = method, Accuracy = metrics.Accuracy, Nll = metrics.Nll, Ece = metrics.Ece, Brier = metrics.Brier, Aurc = report.Selective[UncertaintyScore.Confidence].Aurc,
            OodAurocEntropy = report.OutOfDistribution![UncertaintyScore.PredictiveEntropy].Auroc,
            OodAurocMutualInformation = bayesian ? report.OutOfDistribution[UncertaintyScore.MutualInformation].Auroc : null,
            OodAurocConfidence = report.OutOfDistribution[UncertaintyScore.Confidence].Auroc,
            OodAurocFeatureDistance = report.OutOfDistribution[UncertaintyScore.FeatureDistance].Auroc,
            OodAurocEnergy = report.OutOfDistribution[UncertaintyScore.Energy].Auroc,
            ShiftRotate30Accuracy = rotatedMetrics.Accuracy, ShiftRotate30Ece = rotatedMetrics.Ece,
            ShiftNoiseAccuracy = noisyMetrics.Accuracy, ShiftNoiseEce = noisyMetrics.Ece,
            TrainableParameters = trainable, ModelBytes = SavedBytes(method, classifier, samples),
            TrainStepMs = stepMs, TrainStepRatioVsDeterministic = deterministicStepMs > 0 ? stepMs / deterministicStepMs : 0,
            PredictImagesPerS = rate, PredictImagesPerSMLNet = mlnetRate, MLNetOverDirect = mlnetRatio, Samples = samples,
            PosteriorBuildSeconds = method.StartsWith("2dgbnn", StringComparison.Ordinal) ? classifier.Report.Posterior?.BuildSeconds : null,
            PosteriorScale = classifier.Network.Stage is BayesianStage.MeanField or BayesianStage.Shared ? classifier.Network.PosteriorScale : null,
        };
        Console.WriteLine($"  {method}: accuracy {100 * result.Accuracy:F2}%, NLL {result.Nll:F4}, ECE {result.Ece:F4}, OOD AUROC (entropy) {result.OodAurocEntropy:F3}, " +
                          $"{trainable:N0} trainable, step {stepMs:F1} ms, {rate:F0} images/s ({mlnetRate:F0} through ML.NET; best of three alternated passes {mlnetRatio:F2}x)");
        return new Evaluation(result, test, ood, report.Reliability, riskCoverage, temperature, before, after);
    }

    /// <summary>
    /// Images per second of the test set through ML.NET, right after the direct prediction at the same S, seed and batch
    /// size: the transformer's Transform over the pixel column, with every output column read row by row, as a batch job
    /// or EvaluateWithUncertainty reads them.
    /// </summary>
    double ThroughMLNet(BayesianImageClassifier classifier, int samples, ImageSet images)
    {
        // Not disposed: the transformer would dispose the classifier, which the run goes on training.
        var transformer = Transformer(classifier, samples);
        var input = images.ToDataView(_ml);
        var clock = Stopwatch.StartNew();
        var scored = transformer.Transform(input);
        var outputs = scored.Schema.Skip(input.Schema.Count).ToList();
        int rows = 0;
        using (var cursor = scored.GetRowCursor(outputs))
        {
            var readers = outputs.Select(c => ColumnReader(cursor, c)).ToList();
            while (cursor.MoveNext())
            {
                foreach (var read in readers) read();
                rows++;
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        if (rows != images.Count) throw new InvalidOperationException($"ML.NET scored {rows} rows of {images.Count}.");
        return rows / seconds;
    }

    static Action ColumnReader(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        switch (column.Type)
        {
            case VectorDataViewType:
            {
                var getter = cursor.GetGetter<VBuffer<float>>(column);
                VBuffer<float> value = default;
                return () => getter(ref value);
            }
            case KeyDataViewType:
            {
                var getter = cursor.GetGetter<uint>(column);
                uint value = 0;
                return () => getter(ref value);
            }
            default:
            {
                var getter = cursor.GetGetter<float>(column);
                float value = 0;
                return () => getter(ref value);
            }
        }
    }

    BayesianImageClassificationTransformer Transformer(BayesianImageClassifier classifier, int samples)
        => new(classifier,
            new ImageInputSpec(ImageSetDataView.PixelsColumn, ImageColumnKind.Vector, classifier.Channels, classifier.Height, classifier.Width, 1f), null,
            classifier.ClassNames, BayesianColumnNames.PredictedLabel, BayesianColumnNames.Score, samples, _settings.Seed, 256, ImageFileCheck.DefaultMaxPixels);

    /// <summary>Temperature fitted on the even-numbered test images, ECE before and after on the odd-numbered ones.</summary>
    (double Temperature, double Before, double After) TemperatureScaled(PredictiveDistribution test, int classes)
    {
        var fit = Enumerable.Range(0, test.Count).Where(i => i % 2 == 0).ToList();
        var held = Enumerable.Range(0, test.Count).Where(i => i % 2 == 1).ToList();
        float[] Rows(List<int> rows) => rows.SelectMany(i => test.Row(i).ToArray()).ToArray();
        int[] Labels(List<int> rows) => rows.Select(i => _data.Test.Labels[i]).ToArray();
        var scaling = TemperatureScaling.Fit(Rows(fit), Labels(fit), classes);
        var heldProbabilities = Rows(held);
        double before = ClassificationMetrics.Compute(heldProbabilities, Labels(held), classes).Ece;
        double after = ClassificationMetrics.Compute(scaling.Apply(heldProbabilities, classes), Labels(held), classes).Ece;
        return (scaling.Temperature, before, after);
    }

    /// <summary>Bytes of the model saved with mlContext.Model.Save at <paramref name="samples"/> draws (the file is deleted after).</summary>
    long SavedBytes(string method, BayesianImageClassifier classifier, int samples)
    {
        // Not disposed: the transformer would dispose the classifier, which the run goes on training.
        var transformer = Transformer(classifier, samples);
        string path = Path.Combine(_modelDir, $"{method}.zip");
        _ml.Model.Save(transformer, _data.Test.ToDataView(_ml).Schema, path);
        long bytes = new FileInfo(path).Length;
        File.Delete(path);
        return bytes;
    }

    /// <summary>Reliability diagrams, risk-coverage curves and in/out histograms of every method.</summary>
    public static void Plot(IReadOnlyList<Evaluation> methods, string outDir)
    {
        foreach (var m in methods)
        {
            UncertaintyPlots.Reliability(m.Reliability, Path.Combine(outDir, $"reliability-{m.Result.Method}.png"),
                $"Reliability, {m.Result.Method} (ECE {m.Result.Ece:F4})");
            UncertaintyPlots.Histogram($"Predictive entropy, {m.Result.Method}", new Dictionary<string, float[]>
            {
                ["Fashion-MNIST test"] = m.Test.PredictiveEntropy, ["digits (out of distribution)"] = m.Ood.PredictiveEntropy,
            }, Path.Combine(outDir, $"histogram-entropy-{m.Result.Method}.png"));
            if (m.Result.Samples > 1)
                UncertaintyPlots.Histogram($"Mutual information, {m.Result.Method}", new Dictionary<string, float[]>
                {
                    ["Fashion-MNIST test"] = m.Test.MutualInformation, ["digits (out of distribution)"] = m.Ood.MutualInformation,
                }, Path.Combine(outDir, $"histogram-mutual-information-{m.Result.Method}.png"));
        }
        UncertaintyPlots.RiskCoverage(methods.ToDictionary(m => m.Result.Method, m => m.RiskCoverage), Path.Combine(outDir, "risk-coverage.png"),
            "Risk-coverage, abstaining on low confidence");
    }
}
