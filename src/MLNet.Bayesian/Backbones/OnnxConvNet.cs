using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Backbones;

/// <summary>
/// A TorchSharp network built by walking an ONNX graph of a convolutional network, initialised from its weights: the
/// way to use a pretrained network that ships only as ONNX (ML.NET's ResNet-18 featurizer is a CNTK export whose
/// layout and names no TorchSharp or torchvision state dict matches). Knows the operators such networks are made of:
/// Conv (asymmetric padding too), BatchNormalization, Relu, Add, MaxPool, AveragePool and GlobalAveragePool; any other
/// is refused with its name. Every node becomes one child <see cref="Node"/>, registered under the node's output name,
/// so parameter names read "Convolution249_Output_0.op.weight"; a Conv's layer is a plain <see cref="TorchSharp.Modules.Conv2d"/> and
/// converts to a Bayesian layer like any other. The graph's values flow by name, in the graph's (topological) order.
/// </summary>
internal sealed class OnnxConvNet : Module<Tensor, Tensor>, IOnnxExportable
{
    readonly Node[] _nodes;
    readonly string _input, _output;

    OnnxConvNet(string name, Node[] nodes, string input, string output) : base(name)
    {
        _nodes = nodes;
        _input = input;
        _output = output;
        foreach (var node in nodes) register_module(node.GetName(), node);
    }

    /// <summary>The nodes in the order they run.</summary>
    internal IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>
    /// Builds the network of <paramref name="model"/>'s graph from <paramref name="input"/> (default: the graph's input) to
    /// <paramref name="output"/> (default: its first output). An inner <paramref name="input"/> must cut the graph: no node
    /// after it may read a value computed before it, other than the input itself (a block boundary of a ResNet, see
    /// <see cref="LastStageInput"/>). <paramref name="source"/> names the file in errors.
    /// </summary>
    public static OnnxConvNet FromOnnx(ModelProto model, string source, string? output = null, string? input = null)
    {
        var graph = model.Graph ?? throw new InvalidDataException($"{source} holds no graph.");
        var initializers = graph.Initializer.ToDictionary(t => t.Name, t => t, StringComparer.Ordinal);
        var inputs = graph.Input.Where(i => !initializers.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1) throw new InvalidDataException($"{source} has {inputs.Count} data inputs; a backbone takes one image tensor.");
        output ??= graph.Output.FirstOrDefault()?.Name ?? throw new InvalidDataException($"{source} has no output.");
        input ??= inputs[0].Name;
        var known = new HashSet<string>(StringComparer.Ordinal) { input };
        bool started = input == inputs[0].Name;
        var nodes = new List<Node>();
        foreach (var node in graph.Node)
        {
            if (!started)
            {
                started = node.Output.Contains(input);
                continue;
            }
            foreach (var value in node.Input.Where(v => v.Length > 0 && !initializers.ContainsKey(v) && !known.Contains(v)))
                throw new InvalidDataException($"{source}: '{input}' does not cut the graph: node '{node.Name}' after it reads '{value}', computed before it.");
            nodes.Add(Node.FromOnnx(node, initializers, source));
            known.UnionWith(node.Output);
            if (node.Output.Contains(output)) break;
        }
        if (!started) throw new InvalidDataException($"{source} computes no value '{input}'.");
        if (!nodes.Any(n => n.Output == output)) throw new InvalidDataException($"{source} computes no value '{output}' after '{input}'.");
        return new OnnxConvNet("OnnxConvNet", nodes.ToArray(), input, output);
    }

    /// <summary>
    /// The value the last stage of a ResNet-style graph starts from: the input of its last strided convolution (the
    /// output of the block before, where the graph can be cut), or null when the graph has no strided convolution.
    /// </summary>
    public static string? LastStageInput(ModelProto model)
    {
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var strided = model.Graph.Node.LastOrDefault(n => n.OpType == "Conv" && n.Attribute.Any(a => a.Name == "strides" && a.Ints.Any(v => v > 1)));
        return strided?.Input.FirstOrDefault(v => !initializers.Contains(v));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [_input] = input };
        foreach (var node in _nodes) values[node.Output] = node.Run(node.Inputs.Select(i => values[i]).ToArray());
        return values[_output];
    }

    /// <inheritdoc/>
    public string ExportOnnx(OnnxNetworkExporter exporter, string input)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal) { [_input] = input };
        foreach (var node in _nodes) values[node.Output] = node.ExportOnnx(exporter, node.Inputs.Select(i => values[i]).ToArray());
        return values[_output];
    }

    /// <summary>One graph node: its operator, the names of its inputs and output, and its layer (when it has weights).</summary>
    internal sealed class Node : Module<Tensor, Tensor>
    {
        // Declared as Module<Tensor, Tensor>, so that the Bayesian conversion can put its layer in the Conv2d's place.
        Module<Tensor, Tensor>? op;

        Node(string name, string kind, string[] inputs, string output, Module<Tensor, Tensor>? layer, long[] pads, long[] kernel, long[] strides)
            : base(name)
        {
            Kind = kind;
            Inputs = inputs;
            Output = output;
            Pads = pads;
            Kernel = kernel;
            Strides = strides;
            op = layer;
            RegisterComponents();
        }

        /// <summary>The ONNX operator.</summary>
        public string Kind { get; }
        /// <summary>The names of the values it reads (data inputs only; weights live in <see cref="Layer"/>).</summary>
        public string[] Inputs { get; }
        /// <summary>The name of the value it writes.</summary>
        public string Output { get; }
        /// <summary>ONNX pads (begin of every spatial axis, then end of every one); zeros when none.</summary>
        public long[] Pads { get; }
        /// <summary>Pooling kernel; empty for other operators.</summary>
        public long[] Kernel { get; }
        /// <summary>Pooling strides; empty for other operators.</summary>
        public long[] Strides { get; }
        /// <summary>The node's layer: Conv2d (or the Bayesian layer that replaced it), BatchNorm2d; null for the others.</summary>
        public Module<Tensor, Tensor>? Layer => op;

        /// <summary>The name a TorchSharp module may be registered under: ONNX names may hold dots and slashes.</summary>
        static string ModuleName(string output) => new(output.Select(c => char.IsLetterOrDigit(c) || c == '_' ? c : '_').ToArray());

        public static Node FromOnnx(NodeProto node, IReadOnlyDictionary<string, TensorProto> initializers, string source)
        {
            string where = $"{source}, node '{node.Name}' ({node.OpType})";
            if (node.Output.Count != 1) throw new InvalidDataException($"{where}: {node.Output.Count} outputs; a backbone's nodes have one.");
            var attributes = node.Attribute.ToDictionary(a => a.Name, a => a, StringComparer.Ordinal);
            long[] Ints(string name, long[] fallback) => attributes.TryGetValue(name, out var a) ? a.Ints.ToArray() : fallback;
            long Int(string name, long fallback) => attributes.TryGetValue(name, out var a) ? a.I : fallback;
            string[] data = node.Input.Where(i => i.Length > 0 && !initializers.ContainsKey(i)).ToArray();
            Tensor Weight(int index) => index < node.Input.Count && initializers.TryGetValue(node.Input[index], out var t)
                ? OnnxTensors.ToTensor(t, where) : throw new InvalidDataException($"{where}: input {index} is not a stored weight.");
            if (attributes.TryGetValue("auto_pad", out var autoPad) && autoPad.S.ToStringUtf8() is { Length: > 0 } mode && mode != "NOTSET")
                throw new NotSupportedException($"{where}: auto_pad {mode} is not supported; explicit pads are.");
            string name = ModuleName(node.Output[0]);
            switch (node.OpType)
            {
                case "Conv":
                {
                    var weight = Weight(1);
                    long[] kernel = weight.shape[2..];
                    long[] pads = Ints("pads", new long[2 * kernel.Length]);
                    long[] strides = Ints("strides", Enumerable.Repeat(1L, kernel.Length).ToArray());
                    long[] dilations = Ints("dilations", Enumerable.Repeat(1L, kernel.Length).ToArray());
                    long groups = Int("group", 1);
                    if (kernel.Length != 2) throw new NotSupportedException($"{where}: a {kernel.Length}-D convolution; 2-D ones are supported.");
                    bool symmetric = pads[0] == pads[2] && pads[1] == pads[3];
                    bool hasBias = node.Input.Count > 2 && node.Input[2].Length > 0;
                    var conv = Conv2d(weight.shape[1] * groups, weight.shape[0], (kernel[0], kernel[1]), stride: (strides[0], strides[1]),
                        padding: symmetric ? (pads[0], pads[1]) : (0, 0), dilation: (dilations[0], dilations[1]), groups: groups, bias: hasBias);
                    using (no_grad())
                    {
                        conv.weight!.copy_(weight);
                        if (hasBias) conv.bias!.copy_(Weight(2));
                    }
                    weight.Dispose();
                    return new Node(name, "Conv", data, node.Output[0], conv, symmetric ? new long[4] : pads, kernel, strides);
                }
                case "BatchNormalization":
                {
                    if (Int("spatial", 1) != 1) throw new NotSupportedException($"{where}: spatial = 0 (per-element statistics) is not supported.");
                    var (scale, bias, mean, variance) = (Weight(1), Weight(2), Weight(3), Weight(4));
                    float epsilon = attributes.TryGetValue("epsilon", out var e) ? e.F : 1e-5f;
                    var bn = BatchNorm2d(scale.shape[0], eps: epsilon);
                    using (no_grad())
                    {
                        bn.weight!.copy_(scale);
                        bn.bias!.copy_(bias);
                        bn.running_mean!.copy_(mean);
                        bn.running_var!.copy_(variance);
                    }
                    foreach (var t in new[] { scale, bias, mean, variance }) t.Dispose();
                    return new Node(name, "BatchNormalization", data, node.Output[0], bn, new long[4], Array.Empty<long>(), Array.Empty<long>());
                }
                case "Relu":
                case "Add":
                case "GlobalAveragePool":
                    if (node.OpType == "Add" && data.Length != 2) throw new NotSupportedException($"{where}: Add of a stored constant is not supported.");
                    return new Node(name, node.OpType, data, node.Output[0], null, new long[4], Array.Empty<long>(), Array.Empty<long>());
                case "MaxPool":
                case "AveragePool":
                {
                    long[] kernel = Ints("kernel_shape", Array.Empty<long>());
                    if (kernel.Length != 2) throw new NotSupportedException($"{where}: a {kernel.Length}-D pooling; 2-D ones are supported.");
                    if (Int("ceil_mode", 0) != 0) throw new NotSupportedException($"{where}: ceil_mode = 1 is not supported.");
                    long[] pads = Ints("pads", new long[4]);
                    if (node.OpType == "AveragePool" && pads.Any(p => p != 0) && Int("count_include_pad", 0) != 0)
                        throw new NotSupportedException($"{where}: average pooling that counts padding is not supported.");
                    if (node.OpType == "AveragePool" && pads.Any(p => p != 0))
                        throw new NotSupportedException($"{where}: padded average pooling is not supported.");
                    return new Node(name, node.OpType, data, node.Output[0], null, pads, kernel, Ints("strides", new long[] { 1, 1 }));
                }
                default:
                    throw new NotSupportedException($"{where}: the operator {node.OpType} is not supported in a backbone. Supported: Conv, BatchNormalization, " +
                                                    "Relu, Add, MaxPool, AveragePool, GlobalAveragePool.");
            }
        }

        /// <summary>Pads given in ONNX order (top, left, bottom, right) as torch's (left, right, top, bottom).</summary>
        long[] TorchPads => new[] { Pads[1], Pads[3], Pads[0], Pads[2] };
        bool Padded => Pads.Any(p => p != 0);

        /// <summary>Runs the node on its inputs.</summary>
        public Tensor Run(Tensor[] x) => Kind switch
        {
            "Conv" => StridedPointwiseConvolution.Call(op!, Padded ? functional.pad(x[0], TorchPads) : x[0]),
            "BatchNormalization" => op!.call(x[0]),
            "Relu" => functional.relu(x[0]),
            "Add" => x[0].Plus(x[1]),
            "GlobalAveragePool" => x[0].mean(new long[] { 2, 3 }, keepdim: true),
            // ONNX's padded max pooling never picks a padded position: pad with -infinity.
            "MaxPool" => functional.max_pool2d(Padded ? functional.pad(x[0], TorchPads, value: double.NegativeInfinity) : x[0],
                Kernel, Strides),
            "AveragePool" => functional.avg_pool2d(x[0], Kernel, Strides),
            _ => throw new InvalidOperationException(Kind),
        };

        /// <summary>Writes the node into the exporter's graph: its layer through the exporter (so a Bayesian layer writes its draw), the rest here.</summary>
        public string ExportOnnx(OnnxNetworkExporter exporter, string[] x)
        {
            var g = exporter.Graph;
            switch (Kind)
            {
                case "Conv":
                    // ONNX's Conv takes asymmetric pads itself; the layer was built unpadded for them.
                    return Padded ? exporter.Conv(op!, x[0], Pads) : exporter.Export(op!, x[0]);
                case "BatchNormalization":
                    return exporter.Export(op!, x[0]);
                case "Relu":
                    return g.Node("Relu", x);
                case "Add":
                    return g.Node("Add", x);
                case "GlobalAveragePool":
                    return g.Node("GlobalAveragePool", x);
                case "MaxPool":
                    return g.Node("MaxPool", x, ("kernel_shape", Kernel), ("strides", Strides), ("pads", Pads));
                case "AveragePool":
                    return g.Node("AveragePool", x, ("kernel_shape", Kernel), ("strides", Strides));
                default:
                    throw new InvalidOperationException(Kind);
            }
        }

        /// <inheritdoc/>
        public override Tensor forward(Tensor input) => Run(new[] { input });
    }
}
