using MLNet.Bayesian.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Onnx;

/// <summary>
/// Writes a TorchSharp network's forward pass (evaluation mode) into an ONNX graph, module by module.
/// Knows Sequential, the Bayesian and plain Conv2d/Linear, BatchNorm2d, LayerNorm, ReLU, GELU, Tanh, MaxPool2d, Flatten,
/// AdaptiveAvgPool2d(1) and Identity; a module of this library's writes itself (<see cref="IOnnxExportable"/>: every
/// architecture it offers, the backbones' networks). Anything else is refused with its type name.
/// </summary>
internal sealed class OnnxNetworkExporter
{
    readonly IReadOnlyDictionary<nn.Module, string> _weights;

    public OnnxNetworkExporter(OnnxGraphBuilder graph, IReadOnlyDictionary<nn.Module, string> weights)
    {
        Graph = graph;
        _weights = weights;
    }

    public OnnxGraphBuilder Graph { get; }

    /// <summary>A layer whose input to record (the feature layer, see <c>Training.FeatureTaps</c>).</summary>
    public nn.Module? Tap { get; init; }
    /// <summary>The value that went into <see cref="Tap"/> (null until it is exported).</summary>
    public string? TappedInput { get; private set; }

    /// <summary>
    /// Refuses, before any training, a network whose forward pass this exporter cannot write (the saved model is an ONNX
    /// graph): writes it once into a throwaway graph and turns the exporter's refusal into an error that names the module
    /// and what to use instead. <paramref name="what"/> names the network in the message.
    /// </summary>
    public static void CheckExportable(nn.Module network, string what)
    {
        try
        {
            using var scope = NewDisposeScope();
            new OnnxNetworkExporter(new OnnxGraphBuilder(), new Dictionary<nn.Module, string>()).Export(network, "input");
        }
        catch (NotSupportedException e)
        {
            throw new ArgumentException($"{what} could not be saved after training, so it is refused before: {e.Message} Build it from those modules " +
                "(a Sequential of them), or use one of the Architecture values.", e);
        }
    }

    public string Export(nn.Module module, string x)
    {
        if (Tap is not null && ReferenceEquals(module, Tap)) TappedInput = x;
        switch (module)
        {
            case Sequential sequential:
                foreach (var (_, child) in sequential.named_children()) x = Export(child, x);
                return x;
            case BayesianConv2d conv:
                return Conv(x, _weights[conv], conv.Bias, conv.Stride, conv.Padding, conv.Dilation, conv.Groups);
            case Conv2d conv:
                if (conv.padding is null || conv.padding_mode != TorchSharp.PaddingModes.Zeros)
                    throw new NotSupportedException("ONNX export supports Conv2d with explicit zero padding only.");
                return Conv(x, Weight(conv.weight), conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups);
            case BayesianLinear linear:
                return Linear(x, _weights[linear], linear.Bias);
            case Linear linear:
                return Linear(x, Weight(linear.weight), linear.bias);
            case BatchNorm2d bn:
                return BatchNorm(x, bn);
            case ReLU:
                return Graph.Node("Relu", new[] { x });
            case Tanh:
                return Graph.Node("Tanh", new[] { x });
            case MaxPool2d pool:
                return Graph.Node("MaxPool", new[] { x }, ("kernel_shape", Pair(pool.kernel_size)), ("strides", Pair(pool.stride ?? pool.kernel_size)),
                    ("pads", Pads(pool.padding ?? new long[] { 0 })), ("ceil_mode", pool.ceil_mode ? 1L : 0L));
            case Flatten flatten when flatten.start_dim == 1 && flatten.end_dim == -1:
                return Graph.Node("Flatten", new[] { x }, ("axis", 1L));
            case AdaptiveAvgPool2d pool when pool.output_size.All(s => s == 1):
                return Graph.Node("GlobalAveragePool", new[] { x });
            case Identity:
                return x;
            case LayerNorm norm:
                return LayerNorm(x, norm);
            case GELU:
                // The exact GELU (TorchSharp's default): x * (1 + erf(x / sqrt 2)) / 2; opset 13 has Erf but no Gelu.
                return Graph.Node("Mul", new[] { Graph.Node("Mul", new[] { x, Graph.Scalar("half", 0.5f) }),
                    Graph.Node("Add", new[] { Graph.Node("Erf", new[] { Graph.Node("Div", new[] { x, Graph.Scalar("sqrt2", MathF.Sqrt(2)) }) }), Graph.Scalar("one", 1f) }) });
            case IOnnxExportable exportable:
                return exportable.ExportOnnx(this, x);
            default:
                throw new NotSupportedException(
                    $"ONNX export does not know the module {module.GetType().Name}. Supported: Sequential, Conv2d, Linear, BatchNorm2d, LayerNorm, ReLU, GELU, Tanh, " +
                    "MaxPool2d, Flatten, AdaptiveAvgPool2d(1), Identity, and this library's architectures.");
        }
    }

    string Conv(string x, string weight, Tensor? bias, long[] stride, long[] padding, long[] dilation, long groups)
        => ConvNode(x, weight, bias, stride, Pads(padding), dilation, groups);

    string ConvNode(string x, string weight, Tensor? bias, long[] stride, long[] pads, long[] dilation, long groups)
    {
        var inputs = bias is null ? new[] { x, weight } : new[] { x, weight, Weight(bias) };
        return Graph.Node("Conv", inputs, ("strides", Pair(stride)), ("pads", pads), ("dilations", Pair(dilation)), ("group", groups));
    }

    /// <summary>
    /// A convolution layer (Conv2d or the Bayesian layer that replaced it) built without padding, written with the ONNX
    /// <paramref name="pads"/> (begin of each spatial axis, then end), which may differ at the two ends.
    /// </summary>
    public string Conv(nn.Module layer, string x, long[] pads) => layer switch
    {
        BayesianConv2d conv => ConvNode(x, _weights[conv], conv.Bias, conv.Stride, pads, conv.Dilation, conv.Groups),
        Conv2d conv => ConvNode(x, Weight(conv.weight), conv.bias, conv.stride, pads, conv.dilation, conv.groups),
        _ => throw new NotSupportedException($"A padded convolution must be a Conv2d, not {layer.GetType().Name}."),
    };

    string Linear(string x, string weight, Tensor? bias)
    {
        var b = bias is null ? Graph.Scalar("zero", 0f) : Weight(bias);
        return Graph.Node("Gemm", new[] { x, weight, b }, ("transB", 1L));
    }

    /// <summary>
    /// A Linear layer (plain or Bayesian) applied to the last axis of a tensor of any rank: MatMul by the transposed weight
    /// plus the bias (Gemm, which <see cref="Export"/> writes for Linear, takes matrices only).
    /// </summary>
    public string LinearOnLastAxis(nn.Module layer, string x)
    {
        var (weight, bias) = layer switch
        {
            BayesianLinear linear => (_weights[linear], linear.Bias),
            Linear linear => (Weight(linear.weight), linear.bias),
            _ => throw new NotSupportedException($"Expected a Linear layer, not {layer.GetType().Name}."),
        };
        string y = Graph.Node("MatMul", new[] { x, Graph.Node("Transpose", new[] { weight }, ("perm", new long[] { 1, 0 })) });
        return bias is null ? y : Graph.Node("Add", new[] { y, Weight(bias) });
    }

    /// <summary>LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias, from opset-13 operators.</summary>
    string LayerNorm(string x, LayerNorm norm)
    {
        var axes = new long[] { -1 };
        string centred = Graph.Node("Sub", new[] { x, Graph.Node("ReduceMean", new[] { x }, ("axes", axes), ("keepdims", 1L)) });
        string variance = Graph.Node("ReduceMean", new[] { Graph.Node("Mul", new[] { centred, centred }) }, ("axes", axes), ("keepdims", 1L));
        string y = Graph.Node("Div", new[] { centred, Graph.Node("Sqrt", new[] { Graph.Node("Add", new[] { variance, Graph.Scalar("eps", (float)norm.eps) }) }) });
        if (norm.weight is not null) y = Graph.Node("Mul", new[] { y, Weight(norm.weight) });
        return norm.bias is null ? y : Graph.Node("Add", new[] { y, Weight(norm.bias) });
    }

    string BatchNorm(string x, BatchNorm2d bn)
    {
        if (bn.running_mean is null || bn.running_var is null)
            throw new NotSupportedException("ONNX export needs BatchNorm2d with running statistics.");
        long c = bn.num_features;
        string scale = bn.weight is null ? Graph.Initializer("bn_scale", Enumerable.Repeat(1f, (int)c).ToArray(), c) : Weight(bn.weight);
        string shift = bn.bias is null ? Graph.Initializer("bn_shift", new float[c], c) : Weight(bn.bias);
        return Graph.Node("BatchNormalization", new[] { x, scale, shift, Weight(bn.running_mean), Weight(bn.running_var) }, ("epsilon", bn.eps));
    }

    /// <summary>A deterministic tensor as an initializer.</summary>
    public string Weight(Tensor t)
    {
        using var scope = NewDisposeScope();
        var cpu = t.detach().cpu().contiguous();
        return Graph.Initializer("w", cpu.data<float>().ToArray(), cpu.shape);
    }

    static long[] Pair(long[] v) => v.Length == 1 ? new[] { v[0], v[0] } : v;
    static long[] Pads(long[] p) { var two = Pair(p); return new[] { two[0], two[1], two[0], two[1] }; }
}
