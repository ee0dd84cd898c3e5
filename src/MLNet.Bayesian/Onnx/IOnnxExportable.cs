namespace MLNet.Bayesian.Onnx;

/// <summary>
/// A module that writes its own evaluation-mode forward pass into an ONNX graph, as TorchSharp modules own their state:
/// a network offered by the library implements it (or is made of modules <see cref="OnnxNetworkExporter"/> knows), so
/// that it cannot be offered without its export. Its children are written through <see cref="OnnxNetworkExporter.Export"/>,
/// which writes a Bayesian layer's draw in place of its weight.
/// </summary>
internal interface IOnnxExportable
{
    /// <summary>Writes the module applied to the value <paramref name="input"/>; returns the name of its output value.</summary>
    string ExportOnnx(OnnxNetworkExporter exporter, string input);
}
