using TorchSharp;
using TorchSharp.Modules;

namespace MLNet.Bayesian.Training.Optimization;

/// <summary>The optimiser every training stage uses, chosen by <see cref="TrainerOptions.Optimizer"/> and <see cref="TrainerOptions.FlatOptimizer"/>.</summary>
internal static class TrainingOptimizer
{
    /// <summary>The momentum of <see cref="OptimizerKind.Sgd"/>.</summary>
    public const double SgdMomentum = 0.9;

    /// <summary>A new optimiser over <paramref name="parameters"/>; the flat ones repack them (see <see cref="FlatParameters"/>).</summary>
    public static torch.optim.Optimizer Create(OptimizerKind kind, IReadOnlyList<Parameter> parameters, double learningRate, bool flat) => (kind, flat) switch
    {
        (OptimizerKind.Adam, true) => new FlatAdam(parameters, learningRate),
        (OptimizerKind.Adam, false) => torch.optim.Adam(parameters, learningRate),
        (OptimizerKind.Sgd, true) => new FlatSgd(parameters, learningRate, SgdMomentum),
        (OptimizerKind.Sgd, false) => torch.optim.SGD(parameters, learningRate, momentum: SgdMomentum),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimiser."),
    };

    /// <summary>
    /// A new optimiser over parameter groups, each at its own learning rate (a schedule scales every group from its
    /// own start). One group is the same optimiser as <see cref="Create(OptimizerKind, IReadOnlyList{Parameter}, double, bool)"/>.
    /// </summary>
    public static torch.optim.Optimizer Create(OptimizerKind kind, IReadOnlyList<ParameterGroup> groups, bool flat)
    {
        if (groups.Count == 1) return Create(kind, groups[0].Parameters, groups[0].LearningRate, flat);
        return (kind, flat) switch
        {
            (OptimizerKind.Adam, true) => new FlatAdam(groups),
            (OptimizerKind.Adam, false) => torch.optim.Adam(groups.Select(g => new Adam.ParamGroup(g.Parameters, lr: g.LearningRate)), groups[0].LearningRate),
            (OptimizerKind.Sgd, true) => new FlatSgd(groups, SgdMomentum),
            (OptimizerKind.Sgd, false) => torch.optim.SGD(groups.Select(g => new SGD.ParamGroup(g.Parameters, lr: g.LearningRate, momentum: SgdMomentum)),
                groups[0].LearningRate, momentum: SgdMomentum),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown optimiser."),
        };
    }
}
