using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Torch;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// ML.NET estimator that trains a 2DGBNN image classifier (stages 0 to 3; or the MC-dropout or deep-ensemble
/// baseline, <see cref="TrainerOptions.Method"/>) on an image column and a key label, and returns a <see cref="BayesianImageClassificationTransformer"/> that adds the columns of
/// <see cref="OutputColumns"/>. Progress goes to the MLContext's log; CUDA is used when
/// MLContext.GpuDeviceId is set and available; MLContext.CancelExecution stops training at the next batch.
/// </summary>
public sealed partial class BayesianImageClassificationTrainer : IEstimator<BayesianImageClassificationTransformer>
{
    const string Name = "BayesianImageClassification";
    readonly IHostEnvironment _env;
    readonly Options _options;

    /// <summary>Creates the estimator for an MLContext's environment; the options are checked here, before any data is read.</summary>
    public BayesianImageClassificationTrainer(IHostEnvironment env, Options options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        options.Validate();
    }

    /// <summary>Trains on <paramref name="input"/>.</summary>
    public BayesianImageClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _options.Validate();
        var host = _env.Register(Name);
        using var channel = host.Start("Training");
        var (labelColumn, keyCount, classNames) = CheckLabel(input.Schema);
        var spec = InputSpec(input);
        var device = SelectDevice(channel);
        var featurizer = _options.Backbone == Backbone.None ? null
            : ImageFeaturizer.Load(_options.Backbone, spec.Height, _options.BackboneModelPath, device, _options.BackboneTraining);
        try
        {
            return FitOn(input, channel, labelColumn, keyCount, classNames, spec, device, featurizer);
        }
        catch
        {
            featurizer?.Dispose();
            throw;
        }
    }

    BayesianImageClassificationTransformer FitOn(IDataView input, IChannel channel, DataViewSchema.Column labelColumn, int keyCount, IReadOnlyList<string> classNames,
        ImageInputSpec spec, Device device, ImageFeaturizer? featurizer)
    {
        if (featurizer is not null)
            channel.Info(MessageSensitivity.None, $"{Name}: backbone {BackboneNames.NameOf(featurizer.Backbone)} ({featurizer.Training}), " +
                $"{featurizer.OutputShape.Channels}x{featurizer.OutputShape.Height}x{featurizer.OutputShape.Width} values per {spec.Width}x{spec.Height} RGB image, on {device}.");
        var preprocessing = spec.Kind == ImageColumnKind.Vector ? null : ImagePreprocessing.Fit(new MLContext(), spec, ImageColumnReader.PixelsColumn);
        var reader = new ImageColumnReader(input.Schema[spec.ColumnName], spec, preprocessing, _options.MaxImagePixels);
        var readClock = System.Diagnostics.Stopwatch.StartNew();
        var train = Read(input, reader, spec, labelColumn.Name, "training", featurizer);
        channel.Info(MessageSensitivity.None, $"{Name}: read {train.Count:N0} training {(featurizer is null ? "images" : "images into features")} in {readClock.Elapsed.TotalSeconds:F1} s.");
        if (train.Count == 0)
            throw new ArgumentException($"The training data is empty: no rows reached {Name}.");
        if (train.Labels.Distinct().Count() < 2)
            throw new ArgumentException($"The training data holds a single class ('{train.ClassNames[train.Labels[0]]}') in label column '{labelColumn.Name}'; a classifier needs at least two.");

        int seed = _options.Seed ?? MLNetInternals.Seed(_env) ?? 0;
        ImageSet? validation = null;
        if (_options.ValidationSet is not null)
        {
            var (validationLabel, validationKeys, _) = CheckLabel(_options.ValidationSet.Schema, "validation set");
            if (validationKeys != keyCount)
                throw new ArgumentException($"The validation set's label column '{validationLabel.Name}' has {validationKeys} keys; the training data has {keyCount}. Map both with the same MapValueToKey transformer.");
            var validationImages = _options.ValidationSet.Schema.GetColumnOrNull(spec.ColumnName)
                ?? throw new ArgumentException($"Image column '{spec.ColumnName}' was not found in the validation set.");
            validation = Read(_options.ValidationSet, new ImageColumnReader(validationImages, spec, preprocessing, _options.MaxImagePixels), spec, validationLabel.Name, "validation", featurizer);
        }
        else if (_options.ValidationFraction > 0)
        {
            (train, validation) = train.StratifiedSplit(_options.ValidationFraction, seed);
        }

        channel.Info(MessageSensitivity.None, $"{Name}: {train.Count} training images of {spec.Channels}x{spec.Height}x{spec.Width}, " +
            $"{keyCount} classes, {(validation is null ? "no" : validation.Count.ToString())} validation images, device {device}, seed {seed}.");
        if (_options.Method == BayesianMethod.TwoDGbnn && _options.MeanFieldEpochs == 0)
            channel.Warning(MessageSensitivity.None, $"{Name}: MeanFieldEpochs is 0, so the model stays deterministic: its MutualInformation is 0 on every row " +
                "and cannot send anything to review; the default review rule (PredictiveEntropy, Energy, FeatureDistance) does not need it.");

        var trainerOptions = _options.WithSeed(seed);
        // Features come in any scale: each is standardised over the training rows (pixels keep the options' normalisation).
        // A backbone's tail was trained on its activations as they are, and nothing of a backbone's output is a picture to crop.
        if (featurizer?.Training == BackboneTraining.LastStage) (trainerOptions.NormalizeMean, trainerOptions.NormalizeStd) = (new[] { 0f }, new[] { 1f });
        else if (_options.TrainsOnFeatures) (trainerOptions.NormalizeMean, trainerOptions.NormalizeStd) = (null, null);
        if (featurizer is not null) (trainerOptions.CropPadding, trainerOptions.HorizontalFlip) = (0, false);
        var trainer = new BayesianTrainer(trainerOptions, line => channel.Info(MessageSensitivity.None, line), _options.CancellationToken,
            () => MLNetInternals.IsCanceled(_env)) { Progress = _options.Progress };
        var factory = featurizer?.Training == BackboneTraining.LastStage
            ? (NetworkFactory)((_, _, _, classes) => new BackboneTail(featurizer.CreateTail(), new FeatureHead(featurizer.TailFeatures, classes)))
            : _options.Factory();
        // The saved model is an ONNX graph: a network that cannot be written as one is refused now, not after hours of training.
        using (var probe = factory(train.Channels, train.Height, train.Width, keyCount))
            OnnxNetworkExporter.CheckExportable(probe, _options.NetworkFactory is null ? $"Architecture {_options.Architecture}" : $"The network of {nameof(Options.NetworkFactory)} ({probe.GetType().Name})");
        BayesianImageClassifier model;
        try
        {
            model = trainer.Fit(factory, train, validation, device);
        }
        catch (OperationCanceledException e)
        {
            throw new OperationCanceledException($"{Name}: training was canceled (MLContext.CancelExecution or Options.CancellationToken).", e, _options.CancellationToken);
        }
        channel.Info(MessageSensitivity.None, model.Report.ToString());
        return new BayesianImageClassificationTransformer(model, spec, preprocessing, classNames, _options.PredictedLabelColumnName, _options.ScoreColumnName,
            model.Network.SampleCount(_options.PredictionSamples), seed, _options.BatchSize, _options.MaxImagePixels, featurizer: featurizer);
    }

    /// <summary>The schema <see cref="Fit"/>'s transformer will produce.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        if (!columns.TryGetValue(_options.LabelColumnName, out var label))
            throw new ArgumentException($"Label column '{_options.LabelColumnName}' was not found in the input.");
        if (!label.IsKey)
            throw new ArgumentException($"Label column '{_options.LabelColumnName}' is {label.ItemType}, not a key. Add mlContext.Transforms.Conversion.MapValueToKey(\"{_options.LabelColumnName}\") before the trainer.");
        string inputColumn = _options.FeatureColumnName ?? _options.ImageColumnName;
        if (!columns.ContainsKey(inputColumn))
            throw new ArgumentException($"{(_options.FeatureColumnName is null ? "Image" : "Feature")} column '{inputColumn}' was not found in the input.");
        foreach (var column in OutputColumns.All(_options.PredictedLabelColumnName, _options.ScoreColumnName))
            columns[column.Name] = column.Kind switch
            {
                OutputColumnKind.PredictedLabel => MLNetInternals.Column(column.Name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, isKey: true, label.Annotations),
                OutputColumnKind.Score => MLNetInternals.Column(column.Name, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false),
                _ => MLNetInternals.Column(column.Name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, isKey: false),
            };
        return new SchemaShape(columns.Values);
    }

    (DataViewSchema.Column Column, int KeyCount, IReadOnlyList<string> Names) CheckLabel(DataViewSchema schema, string where = "input")
    {
        var column = schema.GetColumnOrNull(_options.LabelColumnName)
            ?? throw new ArgumentException($"Label column '{_options.LabelColumnName}' was not found in the {where}. Columns: {string.Join(", ", schema.Select(c => c.Name))}.");
        if (column.Type is not KeyDataViewType key)
            throw new ArgumentException($"Label column '{column.Name}' is {column.Type}, not a key. Add mlContext.Transforms.Conversion.MapValueToKey(\"{column.Name}\") before the trainer.");
        if (key.RawType != typeof(uint))
            throw new ArgumentException($"Label column '{column.Name}' is a key of {key.RawType.Name}; MapValueToKey's UInt32 keys are supported.");
        return (column, (int)key.Count, ImageSetDataView.KeyNames(column, (int)key.Count));
    }

    /// <summary>The image column, its kind and the shape the network will see (from the options, else from the first image).</summary>
    ImageInputSpec InputSpec(IDataView input)
    {
        if (_options.FeatureColumnName is { } features)
        {
            var featureColumn = input.Schema.GetColumnOrNull(features)
                ?? throw new ArgumentException($"Feature column '{features}' was not found in the input. Columns: {string.Join(", ", input.Schema.Select(c => c.Name))}.");
            if (featureColumn.Type is not VectorDataViewType { ItemType: NumberDataViewType n, IsKnownSize: true } vector || n.RawType != typeof(float))
                throw new ArgumentException($"Feature column '{features}' is {featureColumn.Type}; features are a float vector of known size " +
                                            "(mlContext.Transforms.Concatenate of float columns, or DnnFeaturizeImage's output).");
            // Features are the network's input as they are: D x 1 x 1, not scaled.
            return new ImageInputSpec(features, ImageColumnKind.Vector, vector.Size, 1, 1, 1f);
        }
        var column = input.Schema.GetColumnOrNull(_options.ImageColumnName)
            ?? throw new ArgumentException($"Image column '{_options.ImageColumnName}' was not found in the input. Columns: {string.Join(", ", input.Schema.Select(c => c.Name))}.");
        var kind = ImageColumnReader.KindOf(column);
        int channels = _options.ImageChannels, height = _options.ImageHeight, width = _options.ImageWidth;
        if (_options.Backbone != Backbone.None)
        {
            if (kind == ImageColumnKind.Vector)
                throw new ArgumentException($"Column '{column.Name}' holds pixel vectors; the backbone {_options.Backbone} reads images (mlContext.Transforms.LoadImages) and resizes them itself.");
            int size = height > 0 ? height : BackboneNames.DefaultInputSize(_options.Backbone);
            return new ImageInputSpec(column.Name, kind, 3, size, size, _options.VectorPixelScale);
        }
        if (kind == ImageColumnKind.Vector)
        {
            if (channels <= 0 || height <= 0 || width <= 0)
                throw new ArgumentException($"Pixel column '{column.Name}' is a float vector: set ImageChannels, ImageHeight and ImageWidth in the options.");
            return new ImageInputSpec(column.Name, kind, channels, height, width, _options.VectorPixelScale);
        }
        if (height <= 0 || width <= 0 || _options.ColorMode == ImageColorMode.Auto)
        {
            // Let the first image decide what was not given.
            var first = FirstImage(input, column, kind);
            if (height <= 0 || width <= 0)
                _options.CheckInputSize(height > 0 ? height : first.Height, width > 0 ? width : first.Width,
                    $"The first training image{(first.File is null ? "" : $" ('{first.File}')")} makes the network input");
            if (height <= 0) height = first.Height;
            if (width <= 0) width = first.Width;
            channels = _options.ColorMode switch
            {
                ImageColorMode.Gray => 1,
                ImageColorMode.Rgb => 3,
                _ => first.Gray ? 1 : 3,
            };
        }
        else channels = _options.ColorMode == ImageColorMode.Gray ? 1 : 3;
        return new ImageInputSpec(column.Name, kind, channels, height, width, _options.VectorPixelScale);
    }

    (int Height, int Width, bool Gray, string? File) FirstImage(IDataView input, DataViewSchema.Column column, ImageColumnKind kind)
    {
        using var cursor = input.GetRowCursor(new[] { column });
        if (!cursor.MoveNext()) throw new ArgumentException("The training data is empty: no rows to read an image from.");
        MLImage image;
        bool owned = false;
        if (kind == ImageColumnKind.Image)
        {
            image = null!;
            cursor.GetGetter<MLImage>(column)(ref image);
            if (image is null) throw new InvalidDataException($"Row 0: image column '{column.Name}' is empty (the file could not be loaded).");
        }
        else
        {
            VBuffer<byte> bytes = default;
            cursor.GetGetter<VBuffer<byte>>(column)(ref bytes);
            image = ImageColumnReader.DecodeBytes(bytes, column.Name, 0, _options.MaxImagePixels);
            owned = true;
        }
        try { return (image.Height, image.Width, ImageColumnReader.IsGray(image), image.Tag); }
        finally { if (owned) image.Dispose(); }
    }

    /// <summary>
    /// Reads every row into memory as floats. Stops with an error naming the row once the images would take more
    /// than half of the memory the process may use, instead of running the machine out of memory.
    /// </summary>
    /// <summary>
    /// Reads every row into memory as floats: the pixels, or with a <paramref name="featurizer"/> their features (the
    /// images go through it a batch at a time, so only the features are held). Stops with an error naming the row once
    /// they would take more than half of the memory the process may use, instead of running the machine out of memory.
    /// </summary>
    static ImageSet Read(IDataView data, ImageColumnReader reader, ImageInputSpec spec, string labelColumn, string what, ImageFeaturizer? featurizer = null)
    {
        var label = data.Schema[labelColumn];
        var image = data.Schema[spec.ColumnName];
        long budget = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2;
        var values = new List<float>();
        var labels = new List<int>();
        using var cursor = data.GetRowCursor(new[] { label, image });
        var getLabel = cursor.GetGetter<uint>(label);
        var getImage = reader.CreateReader(cursor);
        const int FeaturizerBatch = 32;
        var buffer = new float[(featurizer is null ? 1 : FeaturizerBatch) * spec.Size];
        int pending = 0;
        void Flush()
        {
            if (pending == 0) return;
            values.AddRange(featurizer is null ? buffer : featurizer.Featurize(buffer.AsSpan(0, pending * spec.Size), pending));
            pending = 0;
        }
        uint key = 0;
        long row = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref key);
            if (key == 0) throw new InvalidDataException($"Row {row} of the {what} data: label column '{labelColumn}' is missing (a value MapValueToKey did not know).");
            getImage(buffer.AsSpan(pending * spec.Size, spec.Size), row);
            pending++;
            if (pending * spec.Size == buffer.Length) Flush();
            labels.Add((int)key - 1);
            row++;
            if (4L * values.Count > budget)
                throw new InvalidOperationException($"Row {row - 1} of the {what} data: the images read so far take {4.0 * values.Count / (1L << 30):F1} GB as " +
                    $"{spec.Channels}x{spec.Height}x{spec.Width} floats, half of the {budget * 2.0 / (1L << 30):F1} GB this process may use. " +
                    "Set a smaller ImageHeight and ImageWidth, or train on fewer images.");
        }
        Flush();
        int keys = (int)((KeyDataViewType)label.Type).Count;
        var names = ImageSetDataView.KeyNames(label, keys);
        return featurizer is null
            ? new ImageSet(values.ToArray(), labels.ToArray(), spec.Channels, spec.Height, spec.Width, names)
            : new ImageSet(values.ToArray(), labels.ToArray(), (int)featurizer.OutputShape.Channels, (int)featurizer.OutputShape.Height, (int)featurizer.OutputShape.Width, names);
    }

    Device SelectDevice(IChannel channel)
    {
        int? gpu = MLNetInternals.GpuDeviceId(_env);
        if (gpu is null) return CPU;
        if (cuda.is_available()) return new Device(DeviceType.CUDA, gpu.Value);
        if (!MLNetInternals.FallbackToCpu(_env))
            throw new InvalidOperationException($"{Name}: GPU {gpu} was requested (MLContext.GpuDeviceId) but CUDA is not available ({LibTorchRuntime.Description}) " +
                "and MLContext.FallbackToCpu is false. On a machine with an NVIDIA GPU, build with -p:TorchBackend=system and install PyTorch with CUDA " +
                "(or build with -p:TorchBackend=cuda where TorchSharp-cuda-linux restores), or set FallbackToCpu = true.");
        channel.Warning(MessageSensitivity.None, $"{Name}: GPU {gpu} was requested but CUDA is not available; training on the CPU.");
        return CPU;
    }
}
