using MLNet.Bayesian.Data;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>The MC dropout baseline (<see cref="BayesianMethod.McDropout"/>), trained with stage 0's loop.</summary>
internal sealed class McDropoutMethod : TrainingMethod
{
    public override BayesianMethod Method => BayesianMethod.McDropout;

    /// <summary>
    /// One network trained with dropout for DeterministicEpochs + MeanFieldEpochs + SharedEpochs epochs at stage 0's
    /// learning rate (one cosine schedule over them all): the passes over the data 2DGBNN takes, so that neither method
    /// wins by training longer. Then its layers keep the trained weights and every draw masks them.
    /// </summary>
    public override BayesianImageClassifier Fit(BayesianTrainer trainer, MethodInputs inputs)
    {
        var (factory, train, validation, device, seed, rng) = inputs;
        int epochs = trainer.Options.DeterministicEpochs + trainer.Options.MeanFieldEpochs + trainer.Options.SharedEpochs;
        trainer.PlanBatches((long)trainer.StepsPerEpoch(train) * epochs);
        var classifier = trainer.NewClassifier(factory, train, device, new TrainingReport(), seed);
        var (network, report) = (classifier.Network, classifier.Report);
        try
        {
            trainer.Log($"MC dropout: {epochs} epochs with dropout rate {trainer.Options.DropoutRate} on the input of every Conv2d/Linear layer but the first");
            using (InputDropout.Install(network.Network, trainer.Options.DropoutRate, network.TrainingNoise))
                trainer.RunStage(classifier, BayesianStage.Deterministic, epochs, trainer.Options.LearningRate, train, validation, rng, report, null, null);
            network.UseMcDropout(trainer.Options.DropoutRate);
            report.BayesianWeights = network.BayesianWeightCount;
            // The loop validated without dropout; the model scores with S masks, and its report says so.
            var trained = report.Stages[^1];
            report.StageList[^1] = trained with { Stage = BayesianStage.McDropout, Validation = trainer.ValidateFinal(classifier, validation, seed, report) };
            trainer.OnStageCompleted(classifier, BayesianStage.McDropout);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }
}
