using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>What every method trains from: the network's factory, the data, the device, the seed and the shuffling generator.</summary>
internal sealed record MethodInputs(NetworkFactory Factory, ImageSet Train, ImageSet? Validation, Device Device, int Seed, Random Rng);

/// <summary>
/// How one <see cref="BayesianMethod"/> trains, as one object: 2DGBNN through its stages, or a baseline with stage 0's loop.
/// <see cref="BayesianTrainer"/> checks the data and options, then hands over to the method <see cref="For"/> picks; the
/// methods train with the trainer's shared steps (a stage's loop, a new network, the final validation).
/// </summary>
internal abstract class TrainingMethod
{
    /// <summary>Trains a model with <paramref name="trainer"/>'s options and steps.</summary>
    public abstract BayesianImageClassifier Fit(BayesianTrainer trainer, MethodInputs inputs);

    /// <summary>The one factory of methods.</summary>
    public static TrainingMethod For(BayesianMethod method) => method switch
    {
        BayesianMethod.TwoDGbnn => new TwoDGbnnMethod(),
        BayesianMethod.McDropout => new McDropoutMethod(),
        BayesianMethod.DeepEnsemble => new DeepEnsembleMethod(),
        _ => throw new ArgumentOutOfRangeException(nameof(TrainerOptions.Method), method, "not a method"),
    };
}

/// <summary>2DGBNN (<see cref="BayesianMethod.TwoDGbnn"/>): stages 0 to 3, in <see cref="BayesianTrainer.FitTwoDGbnn"/>.</summary>
internal sealed class TwoDGbnnMethod : TrainingMethod
{
    public override BayesianImageClassifier Fit(BayesianTrainer trainer, MethodInputs inputs) => trainer.FitTwoDGbnn(inputs);
}
