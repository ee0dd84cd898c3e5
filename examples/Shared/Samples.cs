using Microsoft.ML;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Examples;

/// <summary>What the examples share: sample images when the user gives none, and a quickly trained model.</summary>
internal static class Samples
{
    /// <summary>1,000 Fashion-MNIST PNGs (100 per class) from the repository's test data, written once to a temp folder.</summary>
    public static string ImageFolderPath()
    {
        string root = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-sample-images");
        if (!Directory.Exists(root))
            ImageFolder.Write(FashionMnist.Load(train: true, Path.Combine("tests", "data", "fashion-mnist-subset")).StratifiedHead(100), root);
        return root;
    }

    /// <summary>The folder's labelled entries with absolute paths.</summary>
    public static List<ImageFolderEntry> Entries(string folder)
        => ImageFolder.Read(folder).Select(e => new ImageFolderEntry { ImagePath = Path.GetFullPath(Path.Combine(folder, e.ImagePath)), Label = e.Label }).ToList();

    /// <summary>Trains a 2DGBNN on the entries and saves it (image-path input, as the other examples score it).</summary>
    public static void TrainModel(IEnumerable<ImageFolderEntry> entries, string zip, int[] epochs, int samples = 10)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(entries);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2], BatchSize = 32,
                PredictionSamples = samples, KLWeight = 0.1, SharedPosterior = { ComponentBudget = 64, MinMembers = 10 },
            }));
        var model = pipeline.Fit(data);
        ml.Model.Save(model, data.Schema, zip);
        (model as IDisposable)?.Dispose();
    }
}
