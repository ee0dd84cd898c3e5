// Model Builder style: ModelInput / ModelOutput classes and a consumption class with Predict.
//   dotnet run --project examples/ModelBuilderStyle -- [<image folder>] [--quick]
// Without a folder, 1,000 Fashion-MNIST PNGs from tests/data are written to a temporary folder first.
using ModelBuilderStyle;
using MLNet.Bayesian.Data;

bool quick = args.Contains("--quick");
string folder = args.FirstOrDefault(a => !a.StartsWith("--")) ?? MLNet.Bayesian.Examples.Samples.ImageFolderPath();
ImageClassifierModel.ModelPath = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-model-builder-style.zip");
Console.WriteLine($"training on {folder} -> {ImageClassifierModel.ModelPath}");
ImageClassifierModel.Train(folder, quick ? new[] { 1, 1, 1 } : new[] { 6, 2, 1 });

foreach (var entry in ImageFolder.Read(folder).Where((_, i) => i % 100 == 0))
{
    var output = ImageClassifierModel.Predict(new ModelInput { ImagePath = Path.Combine(folder, entry.ImagePath) });
    Console.WriteLine($"{entry.ImagePath}: {output.PredictedClass} (confidence {output.Confidence:F2}, epistemic {output.MutualInformation:F4}), true {entry.Label}");
}
