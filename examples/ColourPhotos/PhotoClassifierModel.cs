using Microsoft.ML;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace ColourPhotos;

/// <summary>
/// The consumption class: <see cref="Train"/> once on a folder of photos (one sub-folder per class) with the pretrained
/// ResNet-18 under a 2DGBNN head, then <see cref="Predict"/> anywhere from the saved zip, which holds the backbone.
/// </summary>
public static class PhotoClassifierModel
{
    static readonly Lazy<(PredictionEngine<ModelInput, ModelOutput> Engine, ReviewRule? Rule)> Loaded = new(Load);

    /// <summary>Where the model zip lives.</summary>
    public static string ModelPath { get; set; } = Path.GetFullPath("PhotoClassifier.zip");

    /// <summary>Trains on <paramref name="folder"/> and saves the model, with a review rule that keeps 90% of the validation photos.</summary>
    public static void Train(string folder, int[] epochs)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(ImageFolder.Read(folder).Select(e => new ModelInput { ImagePath = Path.Combine(folder, e.ImagePath), Label = e.Label }));
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", imageFolder: null, nameof(ModelInput.ImagePath)))
            .Append(ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
            {
                Backbone = Backbone.ResNet18ImageNet, ValidationFraction = 0.2,
                DeterministicEpochs = epochs[0], MeanFieldEpochs = epochs[1], SharedEpochs = epochs[2], BatchSize = 32,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue(nameof(ModelOutput.PredictedClass), "PredictedLabel"));
        using var model = pipeline.Fit(data);
        var classifier = model.OfType<BayesianImageClassificationTransformer>().Single();
        // The trainer's last validation pass: the photos it held out, scored as the saved model scores them.
        var rule = classifier.Report.FinalValidation is { } validation ? UncertaintyEvaluator.FitReviewRule(validation, ReviewRule.DefaultScores, coverage: 0.9) : null;
        BayesianModel.Save(ml, model, data.Schema, ModelPath, rule);
    }

    /// <summary>Classifies one photo and says whether a person should look at it.</summary>
    public static (ModelOutput Output, bool NeedsReview) Predict(ModelInput input)
    {
        var (engine, rule) = Loaded.Value;
        var output = engine.Predict(input);
        bool review = rule?.NeedsReview(output) ?? false;
        return (output, review);
    }

    static (PredictionEngine<ModelInput, ModelOutput>, ReviewRule?) Load()
    {
        var ml = new MLContext();
        var model = BayesianModel.Load(ml, ModelPath, out _);
        return (ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(model), BayesianModel.Inspect(ModelPath).ReviewRule);
    }
}
