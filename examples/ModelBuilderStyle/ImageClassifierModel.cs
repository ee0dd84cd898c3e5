using Microsoft.ML;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace ModelBuilderStyle;

/// <summary>The consumption class: train once, then <see cref="Predict"/> anywhere from the saved zip.</summary>
public static class ImageClassifierModel
{
    static readonly Lazy<PredictionEngine<ModelInput, ModelOutput>> Engine = new(CreateEngine);

    /// <summary>Where the model zip lives.</summary>
    public static string ModelPath { get; set; } = Path.GetFullPath("ImageClassifier.zip");

    /// <summary>Trains on a folder with one sub-folder per class and saves the model to <see cref="ModelPath"/>.</summary>
    public static void Train(string folder, int[] epochs)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(ImageFolder.Read(folder).Select(e => new ModelInput { ImagePath = Path.Combine(folder, e.ImagePath), Label = e.Label }));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ModelInput.ImagePath)))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2], BatchSize = 32, PredictionSamples = 10, KLWeight = 0.1,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue(nameof(ModelOutput.PredictedClass), "PredictedLabel"));
        var model = pipeline.Fit(data);
        ml.Model.Save(model, data.Schema, ModelPath);
        (model as IDisposable)?.Dispose();
    }

    /// <summary>Classifies one image.</summary>
    public static ModelOutput Predict(ModelInput input) => Engine.Value.Predict(input);

    static PredictionEngine<ModelInput, ModelOutput> CreateEngine()
    {
        var ml = new MLContext();
        var model = BayesianModel.Load(ml, ModelPath, out _);
        return ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model);
    }
}
