using Google.Protobuf;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MLNet.Bayesian.Onnx;

/// <summary>
/// A small writer of ONNX graphs on OnnxSharp's protobuf classes: initializers, nodes with attributes,
/// inputs and outputs, and unique names. Opset 13.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    public const int Opset = 13;
    readonly GraphProto _graph = new() { Name = "mlnet_bayesian" };
    int _next;

    public string Fresh(string stem) => $"{stem}_{_next++}";

    public string Initializer(string stem, float[] values, params long[] dims)
    {
        var t = new TensorProto { Name = Fresh(stem), DataType = (int)DataType.Float };
        t.Dims.AddRange(dims);
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        t.RawData = ByteString.CopyFrom(bytes);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    public string Initializer(string stem, long[] values, params long[] dims)
    {
        var t = new TensorProto { Name = Fresh(stem), DataType = (int)DataType.Int64 };
        t.Dims.AddRange(dims);
        t.Int64Data.AddRange(values);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A compact index: uint8 or uint16 raw bytes, cast to int64 inside the graph by the caller.</summary>
    public string IndexInitializer(string stem, Array index)
    {
        var t = new TensorProto { Name = Fresh(stem) };
        switch (index)
        {
            case byte[] b:
                t.DataType = (int)DataType.Uint8;
                t.RawData = ByteString.CopyFrom(b);
                break;
            case ushort[] u:
                t.DataType = (int)DataType.Uint16;
                var bytes = new byte[u.Length * 2];
                Buffer.BlockCopy(u, 0, bytes, 0, bytes.Length);
                t.RawData = ByteString.CopyFrom(bytes);
                break;
            default:
                throw new ArgumentException("The index must be byte[] or ushort[].");
        }
        t.Dims.Add(index.Length);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    public string StringInitializer(string stem, IReadOnlyList<string> values)
    {
        var t = new TensorProto { Name = Fresh(stem), DataType = (int)DataType.String };
        t.Dims.Add(values.Count);
        foreach (string v in values) t.StringData.Add(ByteString.CopyFromUtf8(v));
        _graph.Initializer.Add(t);
        return t.Name;
    }

    public string Scalar(string stem, float value) => Initializer(stem, new[] { value });
    public string Int64s(string stem, params long[] values) => Initializer(stem, values, values.Length);

    /// <summary>Adds a node and returns its (first) output name.</summary>
    public string Node(string op, string[] inputs, params (string Name, object Value)[] attributes)
        => NodeWithOutputs(op, inputs, 1, attributes)[0];

    public string[] NodeWithOutputs(string op, string[] inputs, int outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh(op) };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(_ => Fresh(op.ToLowerInvariant())).ToArray();
        node.Output.AddRange(names);
        foreach (var (name, value) in attributes)
        {
            var a = new AttributeProto { Name = name };
            switch (value)
            {
                case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
                case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
                case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
                case double d: a.Type = AttributeProto.Types.AttributeType.Float; a.F = (float)d; break;
                case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
                case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
                default: throw new ArgumentException($"Unsupported attribute type {value.GetType().Name}.");
            }
            node.Attribute.Add(a);
        }
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>Renames a value into a graph output (by an Identity node) with a declared shape (-1: symbolic batch).</summary>
    public void Output(string value, string name, DataType type, params long[] dims)
    {
        var node = new NodeProto { OpType = "Identity", Name = Fresh("Identity") };
        node.Input.Add(value);
        node.Output.Add(name);
        _graph.Node.Add(node);
        _graph.Output.Add(ValueInfo(name, type, dims));
    }

    public void Input(string name, DataType type, params long[] dims) => _graph.Input.Add(ValueInfo(name, type, dims));

    /// <summary>The model: this graph, <paramref name="metadata"/>, and the version of the format it is written in.</summary>
    public ModelProto Build(IReadOnlyDictionary<string, string> metadata, string formatVersion)
    {
        var model = new ModelProto { IrVersion = 7, Graph = _graph, ProducerName = "MLNet.Bayesian", ProducerVersion = formatVersion };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (k, v) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return model;
    }

    static ValueInfoProto ValueInfo(string name, DataType type, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}
