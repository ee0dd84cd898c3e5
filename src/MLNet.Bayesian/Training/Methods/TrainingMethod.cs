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
    /// <summary>The option value that picks this method.</summary>
    public abstract BayesianMethod Method { get; }

    /// <summary>Trains a model with <paramref name="trainer"/>'s options and steps.</summary>
    public abstract BayesianImageClassifier Fit(BayesianTrainer trainer, MethodInputs inputs);

    /// <summary>
    /// The one factory of methods: the subclass of this assembly whose <see cref="Method"/> is <paramref name="method"/>, so
    /// that a new method is a member of <see cref="BayesianMethod"/> and one class, with no list to extend. A method keeps
    /// no state (a fit's state lives in its locals and the trainer), so one instance serves every trainer.
    /// </summary>
    public static TrainingMethod For(BayesianMethod method)
        => All.Value.TryGetValue(method, out var found) ? found : throw new ArgumentOutOfRangeException(nameof(TrainerOptions.Method), method, "not a method");

    static readonly Lazy<Dictionary<BayesianMethod, TrainingMethod>> All = new(() =>
    {
        var methods = typeof(TrainingMethod).Assembly.GetTypes().Where(t => t.IsSubclassOf(typeof(TrainingMethod)) && !t.IsAbstract)
            .Select(t => (TrainingMethod)Activator.CreateInstance(t, nonPublic: true)!).ToList();
        foreach (var group in methods.GroupBy(m => m.Method).Where(g => g.Count() > 1))
            throw new InvalidOperationException($"The method {group.Key} has {group.Count()} classes ({string.Join(", ", group.Select(m => m.GetType().Name))}); it needs one.");
        return methods.ToDictionary(m => m.Method);
    });
}

/// <summary>2DGBNN (<see cref="BayesianMethod.TwoDGbnn"/>): stages 0 to 3, in <see cref="BayesianTrainer.FitTwoDGbnn"/>.</summary>
internal sealed class TwoDGbnnMethod : TrainingMethod
{
    public override BayesianMethod Method => BayesianMethod.TwoDGbnn;

    public override BayesianImageClassifier Fit(BayesianTrainer trainer, MethodInputs inputs) => trainer.FitTwoDGbnn(inputs);
}
