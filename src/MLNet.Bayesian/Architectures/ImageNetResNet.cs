using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Architectures;

/// <summary>
/// The ImageNet ResNets of He et al. 2016 in torchvision's layout and parameter names (conv1, bn1, layer1.0.conv1, ...,
/// fc), so that a torchvision state dict loads: a 7x7 stride-2 stem and a 3x3 max pool, four stages of basic blocks
/// (ResNet-18) or bottlenecks (ResNet-50, -101), global average pooling, one linear layer. Written here rather than taken
/// from TorchSharp's TorchVision so that every module writes itself to ONNX (the saved model is an ONNX graph).
/// </summary>
internal sealed class ImageNetResNet : Module<Tensor, Tensor>, IOnnxExportable
{
    // Declared as Module<Tensor, Tensor>, so that the Bayesian conversion can put its layers in their place.
    readonly Module<Tensor, Tensor> conv1, bn1, maxpool, layer1, layer2, layer3, layer4, fc;

    ImageNetResNet(int channels, int classes, bool bottleneck, int[] blocks) : base(nameof(ImageNetResNet))
    {
        conv1 = Conv2d(channels, 64, 7, stride: 2, padding: 3, bias: false);
        bn1 = BatchNorm2d(64);
        maxpool = MaxPool2d(3, stride: 2, padding: 1);
        int expansion = bottleneck ? 4 : 1, inPlanes = 64;
        Module<Tensor, Tensor> Stage(int planes, int count, int stride)
        {
            var stage = new List<Module<Tensor, Tensor>>();
            for (int b = 0; b < count; b++)
            {
                stage.Add(new Block(inPlanes, planes, b == 0 ? stride : 1, bottleneck));
                inPlanes = planes * expansion;
            }
            return Sequential(stage);
        }
        layer1 = Stage(64, blocks[0], 1);
        layer2 = Stage(128, blocks[1], 2);
        layer3 = Stage(256, blocks[2], 2);
        layer4 = Stage(512, blocks[3], 2);
        fc = Linear(512 * expansion, classes);
        RegisterComponents();
    }

    /// <summary>ResNet-18: basic blocks [2, 2, 2, 2], 11.2M weights at 1,000 classes.</summary>
    public static ImageNetResNet ResNet18(int channels, int classes) => new(channels, classes, bottleneck: false, new[] { 2, 2, 2, 2 });
    /// <summary>ResNet-50: bottlenecks [3, 4, 6, 3].</summary>
    public static ImageNetResNet ResNet50(int channels, int classes) => new(channels, classes, bottleneck: true, new[] { 3, 4, 6, 3 });
    /// <summary>ResNet-101: bottlenecks [3, 4, 23, 3].</summary>
    public static ImageNetResNet ResNet101(int channels, int classes) => new(channels, classes, bottleneck: true, new[] { 3, 4, 23, 3 });

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = maxpool.call(functional.relu(bn1.call(conv1.call(input))));
        x = layer4.call(layer3.call(layer2.call(layer1.call(x))));
        return fc.call(x.mean(new long[] { 2, 3 }));
    }

    string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string input)
    {
        var g = exporter.Graph;
        string x = exporter.Export(maxpool, g.Node("Relu", new[] { exporter.Export(bn1, exporter.Export(conv1, input)) }));
        foreach (var stage in new[] { layer1, layer2, layer3, layer4 }) x = exporter.Export(stage, x);
        return exporter.Export(fc, g.Node("Flatten", new[] { g.Node("GlobalAveragePool", new[] { x }) }, ("axis", 1L)));
    }

    /// <summary>
    /// A basic block (two 3x3 convolutions) or a bottleneck (1x1, 3x3 with the stride, 1x1 to 4x the planes), each
    /// convolution followed by batch norm, added to the input (through a 1x1 projection when the shape changes), then ReLU.
    /// </summary>
    sealed class Block : Module<Tensor, Tensor>, IOnnxExportable
    {
        readonly Module<Tensor, Tensor> conv1, bn1, conv2, bn2;
        readonly Module<Tensor, Tensor>? conv3, bn3, downsample;

        public Block(int inPlanes, int planes, int stride, bool bottleneck) : base(bottleneck ? "Bottleneck" : "BasicBlock")
        {
            int outPlanes = bottleneck ? planes * 4 : planes;
            if (bottleneck)
            {
                conv1 = Conv2d(inPlanes, planes, 1, bias: false);
                conv2 = Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false);
                conv3 = Conv2d(planes, outPlanes, 1, bias: false);
                bn3 = BatchNorm2d(outPlanes);
            }
            else
            {
                conv1 = Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
                conv2 = Conv2d(planes, planes, 3, padding: 1, bias: false);
            }
            bn1 = BatchNorm2d(planes);
            bn2 = BatchNorm2d(planes);
            if (stride != 1 || inPlanes != outPlanes)
                downsample = Sequential(Conv2d(inPlanes, outPlanes, 1, stride: stride, bias: false), BatchNorm2d(outPlanes));
            // The block's last norm starts at 0 (torchvision's zero_init_residual, Goyal et al. 2017): each block starts as
            // the identity, so a deep network's residual sum does not grow block after block before its norms have
            // learned their statistics. ResNet-101 on 30 images, one step per stage, gave non-finite features otherwise.
            using (TorchSharp.torch.no_grad()) ((TorchSharp.Modules.BatchNorm2d)(bn3 ?? bn2)).weight!.zero_();
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var y = functional.relu(bn1.call(conv1.call(x)));
            y = bn2.call(conv2.call(y));
            if (conv3 is not null) y = bn3!.call(conv3.call(functional.relu(y)));
            return functional.relu(y.Plus(downsample is null ? x : StridedPointwiseConvolution.Call(downsample, x)));
        }

        string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string x)
        {
            var g = exporter.Graph;
            string y = g.Node("Relu", new[] { exporter.Export(bn1, exporter.Export(conv1, x)) });
            y = exporter.Export(bn2, exporter.Export(conv2, y));
            if (conv3 is not null) y = exporter.Export(bn3!, exporter.Export(conv3, g.Node("Relu", new[] { y })));
            return g.Node("Relu", new[] { g.Node("Add", new[] { y, downsample is null ? x : exporter.Export(downsample, x) }) });
        }
    }
}
