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
/// The single parameter group exposes the learning rate to TorchSharp's schedulers (CosineAnnealingLR).
/// </para>
/// </summary>
internal abstract class FlatOptimizer : OptimizerHelper
{
    /// <summary>Packs <paramref name="parameters"/> (see <see cref="FlatParameters.Pack"/>).</summary>
    protected FlatOptimizer(IEnumerable<Parameter> parameters, double learningRate)
    {
        if (!(learningRate >= 0) || double.IsInfinity(learningRate))
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "The learning rate must be a finite number of at least 0.");
        Flat = FlatParameters.Pack(parameters);
        _defaults = new OptimizerOptions { LearningRate = learningRate, InitialLearningRate = learningRate };
        _parameter_groups = new List<ParamGroup>
        {
            new() { Parameters = Flat.Parameters, Options = new OptimizerOptions { LearningRate = learningRate, InitialLearningRate = learningRate } },
        };
    }

    /// <summary>The packed parameters and their buffers.</summary>
    internal FlatParameters Flat { get; }

    /// <summary>Zeroes the gradients in place, one operation per buffer; they stay views of the gradient buffers.</summary>
    public override void zero_grad() => Flat.ZeroGradients();

    /// <summary>One update of every parameter at the group's current learning rate.</summary>
    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group => Update(group.LearningRate), closure);

    /// <summary>Updates <see cref="FlatParameters.Values"/> from <see cref="FlatParameters.Gradients"/> (runs under no_grad in a dispose scope).</summary>
    protected abstract void Update(double learningRate);

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Flat.Dispose();
    }
}
