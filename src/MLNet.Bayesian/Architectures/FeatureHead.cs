using MLNet.Bayesian.Onnx;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Architectures;

/// <summary>
/// A classifier on feature vectors (inputs of D x 1 x 1, or any shape, flattened): one hidden layer with ReLU, then
/// the classes. The head that trains on a pretrained backbone's features, or on a tabular float-vector column.
/// </summary>
internal sealed class FeatureHead : Module<Tensor, Tensor>, IOnnxExportable
{
    /// <summary>Hidden units of the default head.</summary>
    public const int DefaultHidden = 128;

    readonly Module<Tensor, Tensor> layers;

    /// <summary>A head for <paramref name="features"/> inputs and <paramref name="classes"/> classes.</summary>
    public FeatureHead(long features, int classes, int hidden = DefaultHidden) : base(nameof(FeatureHead))
    {
        if (features < 1) throw new ArgumentOutOfRangeException(nameof(features), features, "A head needs at least one feature.");
        layers = Sequential(Flatten(), Linear(features, hidden), ReLU(), Linear(hidden, classes));
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input) => layers.call(input);

    string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string input) => exporter.Export(layers, input);
}
