using System.Diagnostics;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training.Optimization;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

// The loop of one stage, in named steps: optimiser and schedule (StageOptimizer), one step (TrainStep), stage 2's gradient
// sums, validation, re-merging and early stopping. BayesianTrainer.cs strings the stages together.
public sealed partial class BayesianTrainer
{
    /// <summary>
    /// The parameter groups of a stage, each with its learning rate: stage 1 and stage 3 train the scales at their own
    /// rate (see <see cref="TrainerOptions.MeanFieldSigmaLearningRate"/>); empty groups are left out.
    /// </summary>
    List<ParameterGroup> ParameterGroups(BayesianNetwork network, BayesianStage stage, double learningRate)
    {
        var trainable = network.parameters().Where(p => p.requires_grad).ToList();
        var scales = stage switch
        {
            BayesianStage.MeanField => network.Layers.Select(l => l.Layer.WeightRho!).ToList(),
            BayesianStage.Shared => network.SharedPosterior!.ScaleParameters.ToList(),
            _ => new List<TorchSharp.Modules.Parameter>(),
        };
        double scaleRate = ScaleLearningRate(stage)?.Rate ?? learningRate;
        var scaleHandles = scales.Select(p => p.Handle).ToHashSet();
        var groups = new List<ParameterGroup> { new(trainable.Where(p => !scaleHandles.Contains(p.Handle)).ToList(), learningRate) };
        if (scales.Count > 0) groups.Add(new(trainable.Where(p => scaleHandles.Contains(p.Handle)).ToList(), scaleRate));
        return groups.Where(g => g.Parameters.Count > 0).ToList();
    }

    /// <summary>
    /// Trains one stage for <paramref name="epochs"/> epochs: per batch one <see cref="TrainStep"/> (and, in stage 1's last
    /// epoch, the gradient sums stage 2 reads); per epoch a line with the loss and the validation figures, then re-merging
    /// (stage 3) and early stopping (variational stages). Adds the stage's report.
    /// </summary>
    internal void RunStage(BayesianImageClassifier classifier, BayesianStage stage, int epochs, double learningRate, ImageSet train,
        ImageSet? validation, Random rng, TrainingReport report, List<Tensor>? gradientSums, List<Tensor>? squaredGradientSums)
    {
        var network = classifier.Network;
        // Whatever was validated before describes the network as it was before this stage changed it.
        report.FinalValidation = null;
        int stepsPerEpoch = StepsPerEpoch(train);
        _stageSteps = (long)epochs * stepsPerEpoch;
        if (ScaleLearningRate(stage) is { } scaleRate)
            _log($"stage {StageNumber(stage)}: scales train at {scaleRate.Rate:G3} ({scaleRate.Name}{(stage == BayesianStage.MeanField && _options.MeanFieldSigmaLearningRate is null && _options.MeanFieldSigmaTravel is double travel ? $": {travel} nats over {_stageSteps} steps" : "")}), the means at {learningRate:G3}");
        using var optimizer = new StageOptimizer(this, network, stage, learningRate, epochs * stepsPerEpoch);
        var early = new EarlyStopping(_options.EarlyStoppingPatience);
        int ran = 0;
        var stepTimes = new List<double>();
        ClassificationMetrics? metrics = null;

        for (int epoch = 0; epoch < epochs; epoch++)
        {
            ThrowIfStopped();
            network.train();
            bool collectGradients = gradientSums is not null && epoch == epochs - 1;
            int gradientSteps = 0;
            stepTimes.Clear();
            var sums = new EpochSums();
            int[] order = Enumerable.Range(0, train.Count).OrderBy(_ => rng.Next()).ToArray();
            var epochClock = Stopwatch.StartNew();
            for (int start = 0; start < order.Length; start += _options.BatchSize)
            {
                ThrowIfStopped();
                var clock = Stopwatch.StartNew();
                using var pause = GcPause.Begin();
                using var scope = NewDisposeScope();
                int n = Math.Min(_options.BatchSize, order.Length - start);
                var position = new StepPosition(stage, epoch, epochs, start / _options.BatchSize, stepsPerEpoch);
                var (loss, nll, kl) = TrainStep(classifier, optimizer, train, order.AsSpan(start, n), rng, KLWeight(epoch), position, learningRate);
                if (collectGradients)
                {
                    AddGradientMagnitudes(network, gradientSums!, squaredGradientSums);
                    gradientSteps++;
                }
                _batchesDone++;
                Progress?.Invoke(new TrainingProgress(stage, StageNumber(stage), epoch + 1, epochs, position.Batch + 1, stepsPerEpoch,
                    _batchesDone, _batchesPlanned, _runClock.Elapsed));
                sums.Add(n, loss, nll, kl);
                stepTimes.Add(clock.Elapsed.TotalMilliseconds);
            }
            if (collectGradients && gradientSteps > 0)
                foreach (var g in gradientSums!.Concat(squaredGradientSums ?? new List<Tensor>())) g.div_(ScalarSafeOps.Constant(gradientSteps, g));
            ran++;

            string line = $"stage {StageNumber(stage)} ({stage}) epoch {epoch + 1}/{epochs}: {sums.Describe(train.Count, stage != BayesianStage.Deterministic)} ({epochClock.Elapsed.TotalSeconds:F1} s)";
            if (validation is not null) (metrics, line) = (ValidateEpoch(classifier, stage, validation, report, out string figures), line + figures);
            _log(line);
            if (stage == BayesianStage.Shared && epoch < epochs - 1 && Remerge(network, report))
                optimizer.Rebuild((epochs - epoch - 1) * stepsPerEpoch);
            if (validation is not null && stage != BayesianStage.Deterministic && early.ShouldStop(metrics!.Nll))
            {
                _log($"stage {StageNumber(stage)}: validation NLL has not improved for {early.EpochsSinceBest} epochs; stopping early.");
                break;
            }
        }
        var median = stepTimes.Count == 0 ? 0 : stepTimes.OrderBy(t => t).ElementAt(stepTimes.Count / 2);
        report.StageList.Add(new StageReport(stage, ran, network.TrainableParameterCount, metrics, median));
    }

    /// <summary>Where a step is: for messages and progress.</summary>
    readonly record struct StepPosition(BayesianStage Stage, int Epoch, int Epochs, int Batch, int StepsPerEpoch);

    /// <summary>The KL weight of an epoch: <see cref="TrainerOptions.KLWeight"/>, ramped up over the warm-up epochs.</summary>
    double KLWeight(int epoch)
        => _options.KLWeight * (_options.KLWarmupEpochs > 0 ? Math.Min(1.0, (epoch + 1.0) / _options.KLWarmupEpochs) : 1.0);

    /// <summary>
    /// One optimiser step on the images <paramref name="rows"/>: the loss (NLL, plus the KL share of a variational stage),
    /// a refusal naming stage, epoch and batch when it is not finite, backward, and the step. Returns the loss, NLL and KL.
    /// </summary>
    (float Loss, float Nll, float? Kl) TrainStep(BayesianImageClassifier classifier, StageOptimizer optimizer, ImageSet train, ReadOnlySpan<int> rows,
        Random rng, double klWeight, StepPosition position, double learningRate)
    {
        var network = classifier.Network;
        var (x, y) = Batch(classifier, train, rows, rng);
        optimizer.Optimizer.zero_grad();
        var logits = network.call(x);
        var nll = nn.functional.cross_entropy(logits, y);
        var loss = nll;
        Tensor? kl = null;
        if (position.Stage != BayesianStage.Deterministic)
        {
            kl = network.KL(_options.PriorSigma);
            loss = nll.Plus(kl * ScalarSafeOps.Constant(klWeight / train.Count, kl));
        }
        float lossValue = loss.item<float>();
        if (!float.IsFinite(lossValue)) throw Diverged(position, lossValue, nll, kl, learningRate);
        loss.backward();
        AfterBackward?.Invoke(network);
        optimizer.CheckFlatGradientsOnce(position);
        optimizer.Optimizer.step();
        optimizer.Scheduler?.step();
        return (lossValue, nll.item<float>(), kl?.item<float>());
    }

    InvalidOperationException Diverged(StepPosition at, float loss, Tensor nll, Tensor? kl, double learningRate)
        => new($"Training diverged: stage {StageNumber(at.Stage)} ({at.Stage}), epoch {at.Epoch + 1}, batch {at.Batch + 1}: the loss is {loss} " +
               $"(NLL {nll.item<float>()}{(kl is null ? "" : $", KL {kl.item<float>()}")}). Lower the learning rate of this stage " +
               $"({LearningRateName(at.Stage)} = {learningRate}{(ScaleLearningRate(at.Stage) is { } scale ? $", or of its scales: {scale.Name} = {scale.Rate}" : "")}) " +
               "or the KL weight.");

    /// <summary>Adds |gradient| (and its square) of every layer's weight means: stage 2's outlier and curvature inputs.</summary>
    static void AddGradientMagnitudes(BayesianNetwork network, List<Tensor> gradientSums, List<Tensor>? squaredGradientSums)
    {
        using var _ = no_grad();
        for (int i = 0; i < gradientSums.Count; i++)
        {
            var g = network.Layers[i].Layer.WeightMu!.grad;
            if (g is null) continue;
            gradientSums[i].add_(g.abs(), ScalarSafeOps.OneScalar);
            squaredGradientSums?[i].addcmul_(g, g, ScalarSafeOps.OneScalar);
        }
    }

    /// <summary>
    /// Scores the validation set with the seeded draws the trained model scores with (the last epoch's figures are the
    /// model's), keeps the rows in the report, and returns the metrics and their text for the epoch's line.
    /// </summary>
    ClassificationMetrics ValidateEpoch(BayesianImageClassifier classifier, BayesianStage stage, ImageSet validation, TrainingReport report, out string line)
    {
        var validationClock = Stopwatch.StartNew();
        var prediction = classifier.Predict(validation.Pixels, SamplesFor(stage), seed: _options.Seed ?? 0);
        var metrics = ClassificationMetrics.Compute(prediction.Probabilities, validation.Labels, classifier.ClassNames.Count);
        report.FinalValidation = ScoredRows.From(prediction, validation.Labels);
        line = $"; validation {metrics} ({validationClock.Elapsed.TotalSeconds:F1} s)";
        return metrics;
    }

    /// <summary>Stage 3 between epochs: merges components that have come together (<see cref="TrainerOptions.RemergeThreshold"/>). True when it did.</summary>
    bool Remerge(BayesianNetwork network, TrainingReport report)
    {
        if (_options.RemergeThreshold <= 0) return false;
        var merged = network.SharedPosterior!.Remerge(_options.RemergeThreshold);
        if (merged is null) return false;
        _log($"stage 3: re-merged {network.SharedPosterior.Plan.Components.Length} components into {merged.Plan.Components.Length}");
        network.ReplaceSharedPosterior(merged);
        report.FinalValidation = null;
        return true;
    }

    /// <summary>The loss, NLL and KL of an epoch, summed over its images.</summary>
    sealed class EpochSums
    {
        double _loss, _nll, _kl;

        public void Add(int images, float loss, float nll, float? kl)
        {
            _loss += loss * images;
            _nll += nll * images;
            if (kl is float k) _kl += k * images;
        }

        public string Describe(int images, bool variational)
            => $"loss {_loss / images:F4}, NLL {_nll / images:F4}" + (variational ? $", KL {_kl / images:F1}" : "");
    }

    /// <summary>Stops a variational stage when validation NLL has not improved by 1e-4 for <c>patience</c> epochs (0: never).</summary>
    sealed class EarlyStopping(int patience)
    {
        double _best = double.PositiveInfinity;

        public int EpochsSinceBest { get; private set; }

        public bool ShouldStop(double nll)
        {
            if (patience <= 0) return false;
            if (nll < _best - 1e-4) { _best = nll; EpochsSinceBest = 0; return false; }
            return ++EpochsSinceBest >= patience;
        }
    }

    /// <summary>
    /// A stage's optimiser and learning-rate schedule. Rebuilt when re-merging replaces the posterior's parameters, for the
    /// steps left (a flat optimiser repacks the new set into new buffers); a flat optimiser that misses a gradient after
    /// its first backward gives way to TorchSharp's per-tensor one.
    /// </summary>
    sealed class StageOptimizer : IDisposable
    {
        readonly BayesianTrainer _trainer;
        readonly BayesianNetwork _network;
        readonly BayesianStage _stage;
        readonly double _learningRate;
        bool _flat, _checkFlatGradients;

        public StageOptimizer(BayesianTrainer trainer, BayesianNetwork network, BayesianStage stage, double learningRate, int steps)
        {
            (_trainer, _network, _stage, _learningRate) = (trainer, network, stage, learningRate);
            _flat = trainer._options.FlatOptimizer;
            Rebuild(steps);
        }

        public optim.Optimizer Optimizer { get; private set; } = null!;
        public optim.lr_scheduler.LRScheduler? Scheduler { get; private set; }

        /// <summary>A new optimiser whose schedule runs over <paramref name="stepsLeft"/> steps.</summary>
        public void Rebuild(long stepsLeft)
        {
            Optimizer?.Dispose();
            Optimizer = TrainingOptimizer.Create(_trainer._options.Optimizer, _trainer.ParameterGroups(_network, _stage, _learningRate), _flat);
            Scheduler = _trainer._options.CosineSchedule ? optim.lr_scheduler.CosineAnnealingLR(Optimizer, (int)Math.Max(1, stepsLeft)) : null;
            _checkFlatGradients = _flat;
        }

        /// <summary>
        /// Once per optimiser, after the first backward: the flat one updates from its buffers, so a gradient that backward put
        /// elsewhere would be ignored without a trace. TorchSharp's optimiser reads every .grad and takes over.
        /// </summary>
        public void CheckFlatGradientsOnce(StepPosition at)
        {
            if (!_checkFlatGradients) return;
            _checkFlatGradients = false;
            if (FlatGradientsMissed(_network, (FlatOptimizer)Optimizer) is not { } missed) return;
            _trainer._log($"warning: stage {StageNumber(_stage)}: after the first backward the gradients of {missed} are not in the flat optimiser's " +
                          $"buffers; training goes on with TorchSharp's per-tensor optimiser ({nameof(TrainerOptions.FlatOptimizer)} = false).");
            _flat = false;
            Rebuild((long)(at.Epochs - at.Epoch) * at.StepsPerEpoch - at.Batch);
        }

        public void Dispose() => Optimizer?.Dispose();
    }

    /// <summary>The validation set scored as the finished model scores (its seeded draws), kept in the report; null without one.</summary>
    internal ClassificationMetrics? ValidateFinal(BayesianImageClassifier classifier, ImageSet? validation, int seed, TrainingReport report)
    {
        report.FinalValidation = null;
        if (validation is null) return null;
        var prediction = classifier.Predict(validation.Pixels, _options.PredictionSamples, seed: seed);
        report.FinalValidation = ScoredRows.From(prediction, validation.Labels);
        var metrics = ClassificationMetrics.Compute(prediction.Probabilities, validation.Labels, classifier.ClassNames.Count);
        _log($"{classifier.Network.Stage}: validation {metrics} at S = {prediction.Samples}");
        return metrics;
    }
}
