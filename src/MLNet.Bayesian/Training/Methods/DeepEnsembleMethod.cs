using MLNet.Bayesian.Data;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>The deep-ensemble baseline (<see cref="BayesianMethod.DeepEnsemble"/>): M networks trained as stage 0.</summary>
internal sealed class DeepEnsembleMethod : TrainingMethod
{
    public override BayesianMethod Method => BayesianMethod.DeepEnsemble;

    /// <summary>
    /// M deterministic networks, member m built and trained as stage 0 with seed + m (member 0 is the 2DGBNN run's stage
    /// 0 at the same seed) for DeterministicEpochs each. The report lists each member's stage 0, then the ensemble
    /// with M times one network's trainable parameters.
    /// </summary>
    public override BayesianImageClassifier Fit(BayesianTrainer trainer, MethodInputs inputs)
    {
        var (factory, train, validation, device, seed, rng) = inputs;
        int members = trainer.Options.EnsembleMembers;
        trainer.PlanBatches((long)trainer.StepsPerEpoch(train) * trainer.Options.DeterministicEpochs * members);
        var report = new TrainingReport();
        BayesianImageClassifier? ensemble = null;
        var others = new List<BayesianNetwork>();
        bool assembled = false;
        try
        {
            for (int m = 0; m < members; m++)
            {
                var memberRng = m == 0 ? rng : new Random(seed + m);
                var member = trainer.NewClassifier(factory, train, device, report, seed + m);
                var network = member.Network;
                if (m == 0) ensemble = member;
                else others.Add(network);
                trainer.Log($"deep ensemble: member {m + 1}/{members}, seed {seed + m}");
                trainer.RunStage(member, BayesianStage.Deterministic, trainer.Options.DeterministicEpochs, trainer.Options.LearningRate, train, validation, memberRng, report, null, null);
            }
            ensemble!.Network.UseEnsemble(others);
            assembled = true;
            var memberSteps = report.Stages.Select(s => s.MedianStepMilliseconds).OrderBy(t => t).ToList();
            var validationMetrics = trainer.ValidateFinal(ensemble, validation, seed, report);
            report.StageList.Add(new StageReport(BayesianStage.DeepEnsemble, trainer.Options.DeterministicEpochs, ensemble.Network.TrainableParameterCount,
                validationMetrics, memberSteps[memberSteps.Count / 2]));
            trainer.OnStageCompleted(ensemble, BayesianStage.DeepEnsemble);
            return ensemble;
        }
        catch
        {
            ensemble?.Dispose();
            if (!assembled) others.ForEach(o => o.Dispose());
            throw;
        }
    }
}
