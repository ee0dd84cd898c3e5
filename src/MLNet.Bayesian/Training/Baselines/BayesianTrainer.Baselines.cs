using System.Diagnostics;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>The baselines of <see cref="BayesianMethod"/>: MC dropout and deep ensembles, trained with stage 0's loop.</summary>
public sealed partial class BayesianTrainer
{
    BayesianImageClassifier FitBaseline(NetworkFactory factory, ImageSet train, ImageSet? validation, Device device, int seed, Random rng)
    {
        _runClock = Stopwatch.StartNew();
        _batchesDone = 0;
        return _options.Method switch
        {
            BayesianMethod.McDropout => FitMcDropout(factory, train, validation, device, seed, rng),
            BayesianMethod.DeepEnsemble => FitDeepEnsemble(factory, train, validation, device, seed, rng),
            _ => throw new ArgumentOutOfRangeException(nameof(TrainerOptions.Method), _options.Method, "not a baseline"),
        };
    }

    /// <summary>
    /// One network trained with dropout for DeterministicEpochs + MeanFieldEpochs + SharedEpochs epochs at stage 0's
    /// learning rate (one cosine schedule over them all): the passes over the data 2DGBNN takes, so that neither method
    /// wins by training longer. Then its layers keep the trained weights and every draw masks them.
    /// </summary>
    BayesianImageClassifier FitMcDropout(NetworkFactory factory, ImageSet train, ImageSet? validation, Device device, int seed, Random rng)
    {
        int epochs = _options.DeterministicEpochs + _options.MeanFieldEpochs + _options.SharedEpochs;
        _batchesPlanned = (long)StepsPerEpoch(train) * epochs;
        var classifier = NewClassifier(factory, train, device, new TrainingReport(), seed);
        var (network, report) = (classifier.Network, classifier.Report);
        try
        {
            _log($"MC dropout: {epochs} epochs with dropout rate {_options.DropoutRate} on the input of every Conv2d/Linear layer but the first");
            using (InputDropout.Install(network.Network, _options.DropoutRate, network.TrainingNoise))
                RunStage(classifier, BayesianStage.Deterministic, epochs, _options.LearningRate, train, validation, rng, report, null, null);
            network.UseMcDropout(_options.DropoutRate);
            report.BayesianWeights = network.BayesianWeightCount;
            // The loop validated without dropout; the model scores with S masks, and its report says so.
            var trained = report.Stages[^1];
            report.StageList[^1] = trained with { Stage = BayesianStage.McDropout, Validation = ValidateFinal(classifier, validation, seed, report) };
            OnStageCompleted(classifier, BayesianStage.McDropout);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>
    /// M deterministic networks, member m built and trained as stage 0 with seed + m (member 0 is the 2DGBNN run's stage
    /// 0 at the same seed) for DeterministicEpochs each. The report lists each member's stage 0, then the ensemble
    /// with M times one network's trainable parameters.
    /// </summary>
    BayesianImageClassifier FitDeepEnsemble(NetworkFactory factory, ImageSet train, ImageSet? validation, Device device, int seed, Random rng)
    {
        int members = _options.EnsembleMembers;
        _batchesPlanned = (long)StepsPerEpoch(train) * _options.DeterministicEpochs * members;
        var report = new TrainingReport();
        BayesianImageClassifier? ensemble = null;
        var others = new List<BayesianNetwork>();
        bool assembled = false;
        try
        {
            for (int m = 0; m < members; m++)
            {
                var memberRng = m == 0 ? rng : new Random(seed + m);
                var member = NewClassifier(factory, train, device, report, seed + m);
                var network = member.Network;
                if (m == 0) ensemble = member;
                else others.Add(network);
                _log($"deep ensemble: member {m + 1}/{members}, seed {seed + m}");
                RunStage(member, BayesianStage.Deterministic, _options.DeterministicEpochs, _options.LearningRate, train, validation, memberRng, report, null, null);
            }
            ensemble!.Network.UseEnsemble(others);
            assembled = true;
            var memberSteps = report.Stages.Select(s => s.MedianStepMilliseconds).OrderBy(t => t).ToList();
            var validationMetrics = ValidateFinal(ensemble, validation, seed, report);
            report.StageList.Add(new StageReport(BayesianStage.DeepEnsemble, _options.DeterministicEpochs, ensemble.Network.TrainableParameterCount,
                validationMetrics, memberSteps[memberSteps.Count / 2]));
            OnStageCompleted(ensemble, BayesianStage.DeepEnsemble);
            return ensemble;
        }
        catch
        {
            ensemble?.Dispose();
            if (!assembled) others.ForEach(o => o.Dispose());
            throw;
        }
    }

    /// <summary>The validation set scored as the finished model scores (its seeded draws), kept in the report; null without one.</summary>
    ClassificationMetrics? ValidateFinal(BayesianImageClassifier classifier, ImageSet? validation, int seed, TrainingReport report)
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
