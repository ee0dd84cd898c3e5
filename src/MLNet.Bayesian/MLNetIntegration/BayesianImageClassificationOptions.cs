using Microsoft.ML;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Training;

namespace MLNet.Bayesian.MLNetIntegration;

public sealed partial class BayesianImageClassificationTrainer
{
    /// <summary>Settings of <see cref="BayesianImageClassificationTrainer"/>.</summary>
    public sealed class Options
    {
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

        /// <summary>The network, when <see cref="NetworkFactory"/> is null.</summary>
        public Architecture Architecture = Architecture.SmallCnn;
        /// <summary>The user's own TorchSharp network (Conv2d/Linear in Sequentials or Module-typed fields).</summary>
        public NetworkFactory? NetworkFactory = null;

        /// <summary>Epochs of deterministic training (stage 0).</summary>
        public int DeterministicEpochs = 3;
        /// <summary>Epochs of mean-field VI (stage 1).</summary>
        public int MeanFieldEpochs = 1;
        /// <summary>Epochs of VI on the shared posterior (stage 3).</summary>
        public int SharedEpochs = 1;
        /// <summary>Images per batch, in training and scoring.</summary>
        public int BatchSize = 64;
        /// <summary>Learning rate of stage 0.</summary>
        public double LearningRate = 1e-3;
        /// <summary>Learning rate of stage 1.</summary>
        public double BayesianLearningRate = 1e-3;
        /// <summary>Learning rate of stage 3.</summary>
        public double SharedLearningRate = 1e-4;
        /// <summary>Scale of the zero-mean Gaussian prior of the mean-field stage.</summary>
        public double PriorSigma = 1.0;
        /// <summary>Multiplies KL / N in the ELBO; below 1 tempers the prior on small data sets.</summary>
        public double KLWeight = 1.0;
        /// <summary>How component draws become weights.</summary>
        public SamplingVariant Variant = SamplingVariant.Hierarchical;
        /// <summary>Posterior samples S averaged for each prediction.</summary>
        public int PredictionSamples = 30;
        /// <summary>Outlier thresholds, component budget, merging: see <see cref="SharedPosteriorOptions"/>.</summary>
        public SharedPosteriorOptions SharedPosterior = new();
        /// <summary>Data held out for validation metrics and early stopping; null uses <see cref="ValidationFraction"/>.</summary>
        public IDataView? ValidationSet = null;
        /// <summary>Stratified fraction of the training data held out when no validation set is given (0: none).</summary>
        public double ValidationFraction = 0;
        /// <summary>Stop a variational stage after this many epochs without a better validation NLL (0: never).</summary>
        public int EarlyStoppingPatience = 0;
        /// <summary>Seed of weights, shuffling, augmentation and prediction draws; null takes the MLContext's seed (or 0).</summary>
        public int? Seed = null;
        /// <summary>Zero padding for random-crop augmentation (0 disables).</summary>
        public int CropPadding = 2;
        /// <summary>Random horizontal flips.</summary>
        public bool HorizontalFlip = false;
        /// <summary>Stops training at the next batch when cancelled (as does MLContext.CancelExecution from Microsoft.ML.Experimental).</summary>
        public CancellationToken CancellationToken = default;
        /// <summary>Per-channel normalisation mean of pixels in [0, 1].</summary>
        public float[] NormalizeMean = { 0.5f };
        /// <summary>Per-channel normalisation standard deviation.</summary>
        public float[] NormalizeStd = { 0.5f };
    }
}
