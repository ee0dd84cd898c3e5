namespace MLNet.Bayesian.Onnx;

/// <summary>A module that writes its own forward pass into an ONNX graph (for modules whose forward is not a plain chain).</summary>
internal interface IOnnxExportable
{
    /// <summary>Emits the module's nodes on <paramref name="input"/> and returns the output value's name.</summary>
    string ExportOnnx(OnnxNetworkExporter exporter, string input);
}
