using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.MLNetIntegration;

public sealed partial class BayesianImageClassificationTrainer
{
    /// <summary>
    /// Settings of <see cref="BayesianImageClassificationTrainer"/>: every training setting of
    /// <see cref="TrainerOptions"/> (epochs, learning rates, variant, S, seed, ...) plus the ML.NET side: columns,
    /// the image shape, the network, validation data, cancellation and input limits.
    /// </summary>
    public sealed class Options : TrainerOptions
    {
        /// <summary>The default largest network input, height x width (1024 x 1024).</summary>
        public const long DefaultMaxInputPixels = 1024 * 1024;

        /// <summary>Key-typed label column.</summary>
        public string LabelColumnName = BayesianColumnNames.Label;
        /// <summary>Image column: an MLImage (LoadImages), encoded bytes (LoadRawImageBytes) or a float pixel vector (ExtractPixels).</summary>
        public string ImageColumnName = BayesianColumnNames.Image;
        /// <summary>Name of the predicted-label output column.</summary>
        public string PredictedLabelColumnName = BayesianColumnNames.PredictedLabel;
        /// <summary>Name of the probability output column.</summary>
        public string ScoreColumnName = BayesianColumnNames.Score;

        /// <summary>Height the network sees; images are resized to it. Required for pixel vectors; 0 keeps the first image's height.</summary>
        public int ImageHeight = 0;
        /// <summary>Width the network sees; images are resized to it. Required for pixel vectors; 0 keeps the first image's width.</summary>
        public int ImageWidth = 0;
        /// <summary>Channels of a pixel-vector input (1 or 3); images decide by <see cref="ColorMode"/>.</summary>
        public int ImageChannels = 0;
        /// <summary>Gray or RGB for image inputs.</summary>
        public ImageColorMode ColorMode = ImageColorMode.Auto;
        /// <summary>Multiplies pixel-vector values; 1/255 matches ExtractPixels' defaults, use 1 for vectors already in [0, 1].</summary>
        public float VectorPixelScale = 1f / 255f;
        /// <summary>Largest decoded image accepted, width x height; a larger file is an error naming it.</summary>
        public long MaxImagePixels = ImageFileCheck.DefaultMaxPixels;
        /// <summary>Largest network input, ImageHeight x ImageWidth (or the first image's size when those are 0).</summary>
        public long MaxInputPixels = DefaultMaxInputPixels;

        /// <summary>
        /// A float-vector column of features to train on instead of an image column: tabular data, or the output of
        /// ML.NET's DnnFeaturizeImage. Null (the default): train on <see cref="ImageColumnName"/>. The features are
        /// standardised with their means and standard deviations over the training rows, and the network is
        /// <see cref="Architecture.Mlp"/> (the default <see cref="Architecture"/> gives way to it; a convolutional one is refused).
        /// </summary>
        public string? FeatureColumnName = null;

        /// <summary>
        /// A pretrained network under the Bayesian head: the images (resized to <see cref="ImageHeight"/> x <see cref="ImageWidth"/>,
        /// 224 x 224 when those are 0, RGB) become its features once, before training, and the head
        /// (<see cref="Architecture.Mlp"/>) is trained on them. The saved model holds the backbone, so it scores images. ResNet18ImageNet
        /// needs the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 in the application (or <see cref="BackboneModelPath"/>).
        /// </summary>
        public Backbone Backbone = Backbone.None;
        /// <summary>
        /// What of the <see cref="Backbone"/> is trained: nothing (the default; only the head trains on its pooled features) or
        /// its last stage with the head (<see cref="Backbones.BackboneTraining.LastStage"/>: slower, adapts the features;
        /// <see cref="NetworkFactory"/> is then not used).
        /// </summary>
        public BackboneTraining BackboneTraining = BackboneTraining.Frozen;
        /// <summary>The backbone's ONNX file (ResNet18.onnx, with ../ResNetPrepOnnx/ResNetPreprocess.onnx beside it); null: where its NuGet package puts it beside the application.</summary>
        public string? BackboneModelPath = null;

        /// <summary>The network, when <see cref="NetworkFactory"/> is null.</summary>
        public Architecture Architecture = Architecture.SmallCnn;
        /// <summary>The user's own TorchSharp network (Conv2d/Linear in Sequentials or Module-typed fields).</summary>
        public NetworkFactory? NetworkFactory = null;

        /// <summary>Data held out for validation metrics and early stopping; null uses <see cref="ValidationFraction"/>.</summary>
        public IDataView? ValidationSet = null;
        /// <summary>Stratified fraction of the training data held out when no validation set is given (0: none).</summary>
        public double ValidationFraction = 0;
        /// <summary>Stops training at the next batch when cancelled (as does MLContext.CancelExecution from Microsoft.ML.Experimental).</summary>
        public CancellationToken CancellationToken = default;
        /// <summary>Called after every training batch with the stage, epoch, batch and an estimate of the time left
        /// (see <see cref="TrainingProgress"/>); null: progress goes to the MLContext's log once per epoch only.</summary>
        public Action<TrainingProgress>? Progress = null;

        /// <inheritdoc />
        public override void Validate()
        {
            base.Validate();
            foreach (var (name, value) in new[] { (nameof(LabelColumnName), LabelColumnName), (nameof(ImageColumnName), ImageColumnName),
                         (nameof(PredictedLabelColumnName), PredictedLabelColumnName), (nameof(ScoreColumnName), ScoreColumnName) })
                if (string.IsNullOrWhiteSpace(value)) throw new ArgumentException($"{name} is empty; give the column's name.", name);
            OptionCheck.AtLeast(nameof(ImageHeight), ImageHeight, 0);
            OptionCheck.AtLeast(nameof(ImageWidth), ImageWidth, 0);
            if (ImageChannels is not (0 or 1 or 3)) throw new ArgumentOutOfRangeException(nameof(ImageChannels), ImageChannels, $"{nameof(ImageChannels)} is {ImageChannels}; use 1 (gray) or 3 (RGB), or 0 for images.");
            OptionCheck.Defined(nameof(ColorMode), ColorMode);
            OptionCheck.Positive(nameof(VectorPixelScale), VectorPixelScale);
            OptionCheck.AtLeast(nameof(MaxImagePixels), MaxImagePixels, 1);
            OptionCheck.AtLeast(nameof(MaxInputPixels), MaxInputPixels, 1);
            if (NetworkFactory is null) OptionCheck.Defined(nameof(Architecture), Architecture);
            OptionCheck.Within(nameof(ValidationFraction), ValidationFraction, 0, 1);
            CheckInputSize(ImageHeight, ImageWidth, "ImageHeight x ImageWidth");
            OptionCheck.Defined(nameof(Backbone), Backbone);
            OptionCheck.Defined(nameof(BackboneTraining), BackboneTraining);
            if (FeatureColumnName is not null && string.IsNullOrWhiteSpace(FeatureColumnName))
                throw new ArgumentException($"{nameof(FeatureColumnName)} is empty; give the column's name, or null to train on images.", nameof(FeatureColumnName));
            if (FeatureColumnName is not null && Backbone != Backbone.None)
                throw new ArgumentException($"{nameof(FeatureColumnName)} ('{FeatureColumnName}') and {nameof(Backbone)} ({Backbone}) both make the features: use one. " +
                                            "A backbone featurizes the image column; a feature column already holds features.", nameof(Backbone));
            if (TrainsOnFeatures && NetworkFactory is null && Architecture is not (Architecture.SmallCnn or Architecture.Mlp))
                throw new ArgumentException($"{nameof(Architecture)} {Architecture} is a network for images; features ({(Backbone != Backbone.None ? $"of the backbone {Backbone}" : $"column '{FeatureColumnName}'")}) " +
                                            $"train {nameof(Architecture.Mlp)} (leave {nameof(Architecture)} at its default), or give a {nameof(NetworkFactory)}.", nameof(Architecture));
            if (Backbone != Backbone.None && ImageHeight != ImageWidth)
                throw new ArgumentException($"The backbone takes square images: {nameof(ImageHeight)} ({ImageHeight}) and {nameof(ImageWidth)} ({ImageWidth}) must be equal (0 for its default, " +
                                            $"{BackboneNames.DefaultInputSize(Backbone)}).", nameof(ImageHeight));
        }

        /// <summary>Whether the network trains on feature vectors (a feature column or a backbone's features) rather than pixels.</summary>
        internal bool TrainsOnFeatures => FeatureColumnName is not null || Backbone != Backbone.None;

        /// <summary>The network's factory: <see cref="NetworkFactory"/>, else <see cref="Architecture"/>, which is <see cref="Architecture.Mlp"/> for features.</summary>
        internal NetworkFactory Factory() => NetworkFactory ?? ArchitectureFactory.Create(TrainsOnFeatures ? Architecture.Mlp : Architecture);

        /// <summary>Refuses a network input above <see cref="MaxInputPixels"/>; <paramref name="what"/> says where the size came from.</summary>
        internal void CheckInputSize(long height, long width, string what)
        {
            if (height * width <= MaxInputPixels) return;
            throw new ArgumentException($"{what} = {height}x{width} = {height * width:N0} pixels per image, more than {nameof(MaxInputPixels)} " +
                $"({MaxInputPixels:N0}): every training image would be held at that size. Set {nameof(ImageHeight)} and {nameof(ImageWidth)} to the size " +
                $"the network should see (e.g. 224x224; images are resized to it), or raise {nameof(MaxInputPixels)}.");
        }
    }
}
