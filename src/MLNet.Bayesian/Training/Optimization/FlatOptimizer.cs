using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training.Optimization;

/// <summary>
/// Base of the optimisers that update every trainable parameter through <see cref="FlatParameters"/>.
/// <para>
/// Why: TorchSharp's optimisers loop over the parameters in C#. For each tensor, every step fetches the gradient and
/// runs about nine native operations, each with fresh Scalar and Tensor wrappers (native allocations the garbage
/// collector finalises later), and zero_grad fetches and zeroes every gradient again: the fixed cost of a step grows
/// with the number of tensors, which doubles in the mean-field stage. PyTorch avoids that with its multi-tensor
/// ("foreach") path. Here the parameters and their gradients are views of one buffer per dtype and device, so a step
/// is a handful of operations on the buffers whatever the number of tensors, and zero_grad is one fill per buffer.
/// </para>
/// <para>
/// Subclasses reproduce TorchSharp's arithmetic operation for operation, so the numbers match its per-tensor
/// optimisers to float rounding. One difference in bookkeeping: a parameter that got no gradient in a step is
/// updated with a zero gradient (its gradient is a zeroed view, never missing) and shares the optimiser's step count;
/// with zero moment estimates such an update changes nothing, as TorchSharp's skipping does.
/// Parameter groups (each with its own learning rate: stage 1 trains the posterior scales faster than the means) are
/// packed separately, one set of buffers per group, and exposed as TorchSharp parameter groups, so TorchSharp's
/// schedulers (CosineAnnealingLR) scale every group's rate from its own initial value, as they do for TorchSharp's
/// optimisers.
/// </para>
/// </summary>
internal abstract class FlatOptimizer : OptimizerHelper
{
    /// <summary>Packs <paramref name="parameters"/> as one group (see <see cref="FlatParameters.Pack"/>).</summary>
    protected FlatOptimizer(IEnumerable<Parameter> parameters, double learningRate)
        : this(new[] { new ParameterGroup(parameters.ToList(), learningRate) })
    {
    }

    /// <summary>Packs each group separately; a group's parameters move at its own learning rate.</summary>
    protected FlatOptimizer(IReadOnlyList<ParameterGroup> groups)
    {
        if (groups.Count == 0) throw new ArgumentException("An optimiser needs at least one parameter group.", nameof(groups));
        foreach (var g in groups)
            if (!(g.LearningRate >= 0) || double.IsInfinity(g.LearningRate))
                throw new ArgumentOutOfRangeException(nameof(groups), g.LearningRate, "The learning rate must be a finite number of at least 0.");
        var seen = new HashSet<IntPtr>();
        foreach (var p in groups.SelectMany(g => g.Parameters.DistinctBy(p => p.Handle)))
            if (!seen.Add(p.Handle)) throw new ArgumentException("A parameter belongs to more than one group.", nameof(groups));
        Groups = groups.Select(g => FlatParameters.Pack(g.Parameters)).ToArray();
        _defaults = new OptimizerOptions { LearningRate = groups[0].LearningRate, InitialLearningRate = groups[0].LearningRate };
        _parameter_groups = groups.Select((g, i) => new ParamGroup
        {
            Parameters = Groups[i].Parameters,
            Options = new OptimizerOptions { LearningRate = g.LearningRate, InitialLearningRate = g.LearningRate },
        }).ToList();
    }

    /// <summary>The packed parameters and their buffers, one entry per parameter group.</summary>
    internal IReadOnlyList<FlatParameters> Groups { get; }

    /// <summary>The packed parameters of a single-group optimiser.</summary>
    internal FlatParameters Flat => Groups.Count == 1 ? Groups[0]
        : throw new InvalidOperationException($"This optimiser holds {Groups.Count} parameter groups; use {nameof(Groups)}.");

    /// <summary>
    /// The parameters whose last backward did not land in the gradient buffers (see
    /// <see cref="FlatParameters.ParametersWhoseGradientMissedTheBuffer"/>): a step would ignore their gradient.
    /// </summary>
    internal IReadOnlyList<Parameter> ParametersWhoseGradientMissedTheBuffers() => Groups.SelectMany(g => g.ParametersWhoseGradientMissedTheBuffer()).ToList();

    /// <summary>Zeroes the gradients in place, one operation per buffer; they stay views of the gradient buffers.</summary>
    public override void zero_grad()
    {
        foreach (var g in Groups) g.ZeroGradients();
    }

    /// <summary>One update of every parameter at its group's current learning rate.</summary>
    public override Tensor step(Func<Tensor>? closure = null)
    {
        BeginStep();
        int group = 0;
        return _step<ParamGroup>(g => Update(Groups[group], group++, g.LearningRate), closure);
    }

    /// <summary>Called once per step before the groups are updated (Adam counts its steps here, once for all groups).</summary>
    protected virtual void BeginStep()
    {
    }

    /// <summary>
    /// Updates <paramref name="flat"/>'s values (group <paramref name="group"/>) from its gradients (runs under no_grad
    /// in a dispose scope).
    /// </summary>
    protected abstract void Update(FlatParameters flat, int group, double learningRate);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) foreach (var g in Groups) g.Dispose();
    }
}

/// <summary>Parameters that share a learning rate.</summary>
internal sealed record ParameterGroup(IReadOnlyList<Parameter> Parameters, double LearningRate);
