using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Onnx;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Backbones;

/// <summary>
/// The trainable end of a pretrained backbone (<see cref="BackboneTraining.LastStage"/>) with the head on its pooled
/// features: tail, global average, <see cref="FeatureHead"/>. Its input is the activations where the frozen part of the
/// backbone stops (<see cref="ImageFeaturizer"/>); its convolutions become Bayesian with the head's layers.
/// </summary>
internal sealed class BackboneTail : Module<Tensor, Tensor>, IOnnxExportable
{
    // Declared as Module<Tensor, Tensor>, so that the Bayesian conversion can replace layers inside them.
    readonly Module<Tensor, Tensor> tail;
    readonly Module<Tensor, Tensor> head;

    public BackboneTail(Module<Tensor, Tensor> tail, Module<Tensor, Tensor> head) : base(nameof(BackboneTail))
    {
        this.tail = tail;
        this.head = head;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input) => head.call(tail.call(input).mean(new long[] { 2, 3 }, keepdim: true));

    string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string input)
        => exporter.Export(head, exporter.Graph.Node("GlobalAveragePool", new[] { exporter.Export(tail, input) }));
}
