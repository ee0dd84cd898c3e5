using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training.Optimization;

/// <summary>
/// Trainable parameters repacked as views of one flat value buffer and one flat gradient buffer per dtype and
/// device, so that an optimiser can update all of them with a few operations on the buffers.
/// <para>
/// Each parameter keeps its identity (the modules still hold the same <see cref="Parameter"/> objects): its storage
/// is swapped with <see cref="Tensor.set_"/> for a slice of the value buffer, and its <c>.grad</c> is set to the
/// matching slice of the gradient buffer. Autograd accumulates into a defined gradient in place
/// (<c>grad += new_grad</c> in LibTorch's AccumulateGrad when no higher-order graph is built), so backward writes
/// straight into the gradient buffer. That holds only while the gradients stay these slices: clear them with
/// <see cref="ZeroGradients"/>, never by setting <c>.grad</c> to null, and do not move the module to another
/// device afterwards (that replaces the parameters' storage and would leave the buffers behind).
/// </para>
/// </summary>
internal sealed class FlatParameters : IDisposable
{
    readonly Tensor[] _values;
    readonly Tensor[] _gradients;
    // Where each parameter lives, in Parameters order: which buffer, and at what element.
    readonly (int Buffer, long Offset)[] _slots;

    FlatParameters(IReadOnlyList<Parameter> parameters, Tensor[] values, Tensor[] gradients, (int Buffer, long Offset)[] slots)
    {
        Parameters = parameters;
        _values = values;
        _gradients = gradients;
        _slots = slots;
    }

    /// <summary>The parameters, in the order they were packed.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>One flat buffer per dtype and device: the parameters' values.</summary>
    public IReadOnlyList<Tensor> Values => _values;

    /// <summary>The gradient buffer that belongs to <see cref="Values"/>[i].</summary>
    public IReadOnlyList<Tensor> Gradients => _gradients;

    /// <summary>
    /// Packs <paramref name="parameters"/>: copies their values (and gradients, where they have some) into new flat
    /// buffers and makes each parameter and its gradient a view of them. A parameter listed twice is packed once.
    /// </summary>
    public static FlatParameters Pack(IEnumerable<Parameter> parameters)
    {
        var unique = parameters.DistinctBy(p => p.Handle).ToList();
        var values = new List<Tensor>();
        var gradients = new List<Tensor>();
        var slots = new (int Buffer, long Offset)[unique.Count];
        var position = unique.Select((p, i) => (p.Handle, i)).ToDictionary(t => t.Handle, t => t.i);
        using var noGrad = no_grad();
        foreach (var group in unique.GroupBy(p => (p.dtype, p.device.type, p.device.index)))
        {
            var members = group.ToList();
            long total = members.Sum(p => p.numel());
            var device = members[0].device;
            var valueBuffer = empty(total, dtype: group.Key.dtype, device: device).DetachFromDisposeScope();
            var gradientBuffer = zeros(total, dtype: group.Key.dtype, device: device).DetachFromDisposeScope();
            long offset = 0;
            foreach (var p in members)
            {
                long count = p.numel();
                var shape = p.shape;
                using (var slot = valueBuffer.narrow(0, offset, count).view(shape))
                {
                    slot.copy_(p);
                    p.set_(slot);
                }
                using (var gradientSlot = gradientBuffer.narrow(0, offset, count).view(shape))
                {
                    using (var old = p.grad)
                        if (old is not null) gradientSlot.copy_(old);
                    p.grad = gradientSlot;
                }
                slots[position[p.Handle]] = (values.Count, offset);
                offset += count;
            }
            values.Add(valueBuffer);
            gradients.Add(gradientBuffer);
        }
        return new FlatParameters(unique, values.ToArray(), gradients.ToArray(), slots);
    }

    /// <summary>
    /// The parameters whose gradient is not what their slot of the gradient buffer holds: backward replaced the view
    /// with a tensor of its own (LibTorch does so when a graph of higher order is built, or when something set
    /// <c>.grad</c>), so an update from the buffers would follow a stale gradient. Empty when every gradient landed.
    /// Costs one comparison per parameter: meant for the first step of a stage, not every step.
    /// </summary>
    public IReadOnlyList<Parameter> ParametersWhoseGradientMissedTheBuffer()
    {
        var missed = new List<Parameter>();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < Parameters.Count; i++)
        {
            var p = Parameters[i];
            var grad = p.grad;
            var slot = _gradients[_slots[i].Buffer].narrow(0, _slots[i].Offset, p.numel()).view(p.shape);
            if (grad is not null && !grad.eq(slot).all().item<bool>()) missed.Add(p);
        }
        return missed;
    }

    /// <summary>Sets every gradient to zero in place (one operation per buffer), keeping them views of the buffers.</summary>
    public void ZeroGradients()
    {
        foreach (var g in _gradients) g.zero_();
    }

    /// <summary>
    /// Releases this object's handles on the buffers. The memory stays while the parameters (and their gradients),
    /// which are views of it, live.
    /// </summary>
    public void Dispose()
    {
        foreach (var t in _values) t.Dispose();
        foreach (var t in _gradients) t.Dispose();
    }
}
