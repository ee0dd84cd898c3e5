using Onnx;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace MLNet.Bayesian.Onnx;

/// <summary>Stored ONNX tensors (initializers) read into TorchSharp tensors.</summary>
internal static class OnnxTensors
{
    /// <summary>A float initializer as a CPU tensor of its shape; <paramref name="where"/> names it in errors.</summary>
    public static Tensor ToTensor(TensorProto t, string where)
    {
        if (t.DataType != (int)DataType.Float)
            throw new NotSupportedException($"{where}: initializer '{t.Name}' is of ONNX type {(DataType)t.DataType}; float weights are supported.");
        long count = t.Dims.Aggregate(1L, (a, d) => a * d);
        float[] values;
        if (!t.RawData.IsEmpty)
        {
            if (t.RawData.Length != count * 4)
                throw new InvalidDataException($"{where}: initializer '{t.Name}' holds {t.RawData.Length} bytes for {count} floats.");
            values = new float[count];
            Buffer.BlockCopy(t.RawData.ToByteArray(), 0, values, 0, t.RawData.Length);
        }
        else
        {
            if (t.FloatData.Count != count)
                throw new InvalidDataException($"{where}: initializer '{t.Name}' holds {t.FloatData.Count} floats for a shape of {count}.");
            values = t.FloatData.ToArray();
        }
        return tensor(values, t.Dims.ToArray());
    }
}
