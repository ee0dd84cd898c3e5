using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Architectures;

/// <summary>
/// CIFAR-style ResNet (He et al. 2016, section 4.2): a 3x3 stem with 16 channels, three stages of n basic
/// blocks with 16, 32, 64 channels, global average pooling, one linear layer. Depth 6n + 2 (ResNet-20: n = 3).
/// </summary>
internal sealed class CifarResNet : Module<Tensor, Tensor>, IOnnxExportable
{
    readonly Module<Tensor, Tensor> stem;
    readonly Module<Tensor, Tensor> stages;
    readonly Module<Tensor, Tensor> head;

    /// <summary>Creates a ResNet of depth 6 * <paramref name="blocksPerStage"/> + 2.</summary>
    public CifarResNet(int channels, int classes, int blocksPerStage = 3) : base(nameof(CifarResNet))
    {
        stem = Sequential(Conv2d(channels, 16, 3, padding: 1, bias: false), BatchNorm2d(16), ReLU());
        var blocks = new List<Module<Tensor, Tensor>>();
        int inPlanes = 16;
        foreach (var (planes, stride) in new[] { (16, 1), (32, 2), (64, 2) })
            for (int b = 0; b < blocksPerStage; b++)
            {
                blocks.Add(new BasicBlock(inPlanes, planes, b == 0 ? stride : 1));
                inPlanes = planes;
            }
        stages = Sequential(blocks);
        head = Sequential(AdaptiveAvgPool2d(1), Flatten(), Linear(64, classes));
        RegisterComponents();
    }

    /// <summary>ResNet-20.</summary>
    public static CifarResNet ResNet20(int channels, int classes) => new(channels, classes, 3);

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => head.call(stages.call(stem.call(input)));

    string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string input) => exporter.Export(head, exporter.Export(stages, exporter.Export(stem, input)));

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).</summary>
    internal sealed class BasicBlock : Module<Tensor, Tensor>, IOnnxExportable
    {
        readonly Module<Tensor, Tensor> conv1, bn1, conv2, bn2;
        readonly Module<Tensor, Tensor> shortcut;

        public BasicBlock(int inPlanes, int planes, int stride) : base(nameof(BasicBlock))
        {
            conv1 = Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
            bn1 = BatchNorm2d(planes);
            conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
            bn2 = BatchNorm2d(planes);
            shortcut = stride != 1 || inPlanes != planes
                ? Sequential(Conv2d(inPlanes, planes, 1, stride: stride, bias: false), BatchNorm2d(planes))
                : Identity();
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var y = functional.relu(bn1.call(conv1.call(x)));
            y = bn2.call(conv2.call(y));
            return functional.relu(y.Plus(StridedPointwiseConvolution.Call(shortcut, x)));
        }

        string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string x)
        {
            var g = exporter.Graph;
            var y = g.Node("Relu", new[] { exporter.Export(bn1, exporter.Export(conv1, x)) });
            y = exporter.Export(bn2, exporter.Export(conv2, y));
            return g.Node("Relu", new[] { g.Node("Add", new[] { y, exporter.Export(shortcut, x) }) });
        }
    }
}
