using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms.Image;
using MLNet.Bayesian.Architectures;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// ML.NET estimator that trains a 2DGBNN image classifier (stages 0 to 3) on an image column and a key
/// label, and returns a <see cref="BayesianImageClassificationTransformer"/> that adds PredictedLabel,
/// Score and the uncertainty columns. Progress goes to the MLContext's log; CUDA is used when
/// MLContext.GpuDeviceId is set and available; MLContext.CancelExecution stops training at the next batch.
/// </summary>
public sealed partial class BayesianImageClassificationTrainer : IEstimator<BayesianImageClassificationTransformer>
{
    const string Name = "BayesianImageClassification";
    readonly IHostEnvironment _env;
    readonly Options _options;

    /// <summary>Creates the estimator for an MLContext's environment.</summary>
    public BayesianImageClassificationTrainer(IHostEnvironment env, Options options)
    {
        _env = env ?? throw new ArgumentNullException(nameof(env));
        _options = options ?? throw new ArgumentNullException(nameof(options));
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), "BatchSize must be at least 1.");
        if (options.PredictionSamples < 1) throw new ArgumentOutOfRangeException(nameof(options), "PredictionSamples must be at least 1.");
    }

    /// <summary>Trains on <paramref name="input"/>.</summary>
    public BayesianImageClassificationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var host = _env.Register(Name);
        using var channel = host.Start("Training");
        var (labelColumn, keyCount, classNames) = CheckLabel(input.Schema);
        var reader = CreateReader(input);
        var train = Read(input, reader, labelColumn.Name, "training");
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
            validation = Read(_options.ValidationSet, reader, validationLabel.Name, "validation");
        }
        else if (_options.ValidationFraction > 0)
        {
            (train, validation) = train.StratifiedSplit(_options.ValidationFraction, seed);
        }

        var device = SelectDevice(channel);
        var trainerOptions = new TrainerOptions
        {
            DeterministicEpochs = _options.DeterministicEpochs, MeanFieldEpochs = _options.MeanFieldEpochs, SharedEpochs = _options.SharedEpochs,
            BatchSize = _options.BatchSize, LearningRate = _options.LearningRate, BayesianLearningRate = _options.BayesianLearningRate,
            SharedLearningRate = _options.SharedLearningRate, PriorSigma = _options.PriorSigma, KLWeight = _options.KLWeight, Variant = _options.Variant, PredictionSamples = _options.PredictionSamples,
            SharedPosterior = _options.SharedPosterior, EarlyStoppingPatience = _options.EarlyStoppingPatience, Seed = seed,
            CropPadding = _options.CropPadding, HorizontalFlip = _options.HorizontalFlip,
            NormalizeMean = _options.NormalizeMean, NormalizeStd = _options.NormalizeStd,
        };
        channel.Info(MessageSensitivity.None, $"{Name}: {train.Count} training images of {reader.Channels}x{reader.Height}x{reader.Width}, " +
            $"{keyCount} classes, {(validation is null ? "no" : validation.Count.ToString())} validation images, device {device}, seed {seed}.");

        var trainer = new BayesianTrainer(trainerOptions, line => channel.Info(MessageSensitivity.None, line), _options.CancellationToken,
            () => MLNetInternals.IsCanceled(_env));
        var factory = _options.NetworkFactory ?? ArchitectureFactory.Create(_options.Architecture);
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
        return new BayesianImageClassificationTransformer(model, new BayesianImageClassificationTransformer.InputSpec(
            _options.ImageColumnName, reader.Channels, reader.Height, reader.Width, _options.VectorPixelScale) { Kind = reader.InputKind },
            classNames, _options.PredictedLabelColumnName, _options.ScoreColumnName, _options.PredictionSamples, seed, _options.BatchSize);
    }

    /// <summary>The schema <see cref="Fit"/>'s transformer will produce.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        if (!columns.TryGetValue(_options.LabelColumnName, out var label))
            throw new ArgumentException($"Label column '{_options.LabelColumnName}' was not found in the input.");
        if (!label.IsKey)
            throw new ArgumentException($"Label column '{_options.LabelColumnName}' is {label.ItemType}, not a key. Add mlContext.Transforms.Conversion.MapValueToKey(\"{_options.LabelColumnName}\") before the trainer.");
        if (!columns.ContainsKey(_options.ImageColumnName))
            throw new ArgumentException($"Image column '{_options.ImageColumnName}' was not found in the input.");
        columns[_options.PredictedLabelColumnName] = MLNetInternals.Column(_options.PredictedLabelColumnName, SchemaShape.Column.VectorKind.Scalar,
            NumberDataViewType.UInt32, isKey: true, label.Annotations);
        columns[_options.ScoreColumnName] = MLNetInternals.Column(_options.ScoreColumnName, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, isKey: false);
        foreach (string name in new[] { BayesianColumnNames.Confidence, BayesianColumnNames.PredictiveEntropy, BayesianColumnNames.ExpectedEntropy, BayesianColumnNames.MutualInformation })
            columns[name] = MLNetInternals.Column(name, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.Single, isKey: false);
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

    ImageColumnReader CreateReader(IDataView input)
    {
        var column = input.Schema.GetColumnOrNull(_options.ImageColumnName)
            ?? throw new ArgumentException($"Image column '{_options.ImageColumnName}' was not found in the input. Columns: {string.Join(", ", input.Schema.Select(c => c.Name))}.");
        int channels = _options.ImageChannels, height = _options.ImageHeight, width = _options.ImageWidth;
        if (column.Type is VectorDataViewType { ItemType: NumberDataViewType n } && n.RawType == typeof(float))
        {
            if (channels <= 0 || height <= 0 || width <= 0)
                throw new ArgumentException($"Pixel column '{column.Name}' is a float vector: set ImageChannels, ImageHeight and ImageWidth in the options.");
            return new ImageColumnReader(column, channels, height, width, _options.VectorPixelScale);
        }
        if (height <= 0 || width <= 0 || _options.ColorMode == ImageColorMode.Auto)
        {
            // Let the first image decide what was not given.
            var first = FirstImage(input, column);
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
        return new ImageColumnReader(column, channels, height, width, _options.VectorPixelScale);
    }

    static (int Height, int Width, bool Gray) FirstImage(IDataView input, DataViewSchema.Column column)
    {
        using var cursor = input.GetRowCursor(new[] { column });
        if (!cursor.MoveNext()) throw new ArgumentException("The training data is empty: no rows to read an image from.");
        MLImage image;
        bool owned = false;
        if (column.Type is ImageDataViewType)
        {
            image = null!;
            cursor.GetGetter<MLImage>(column)(ref image);
            if (image is null) throw new InvalidDataException($"Row 0: image column '{column.Name}' is empty (the file could not be loaded).");
        }
        else if (column.Type is VectorDataViewType { ItemType: NumberDataViewType n } && n.RawType == typeof(byte))
        {
            VBuffer<byte> bytes = default;
            cursor.GetGetter<VBuffer<byte>>(column)(ref bytes);
            image = ImageColumnReader.DecodeBytes(bytes, column.Name, 0);
            owned = true;
        }
        else
        {
            throw new ArgumentException($"Image column '{column.Name}' is {column.Type}. Expected an image (LoadImages), raw bytes (LoadRawImageBytes) or a known-size float vector (ExtractPixels).");
        }
        try { return (image.Height, image.Width, ImageColumnReader.IsGray(image)); }
        finally { if (owned) image.Dispose(); }
    }

    static ImageSet Read(IDataView data, ImageColumnReader reader, string labelColumn, string what)
    {
        var label = data.Schema[labelColumn];
        var image = data.Schema.GetColumnOrNull(reader.ColumnName)
            ?? throw new ArgumentException($"Image column '{reader.ColumnName}' was not found in the {what} data.");
        var pixels = new List<float>();
        var labels = new List<int>();
        using var cursor = data.GetRowCursor(new[] { label, image });
        var getLabel = cursor.GetGetter<uint>(label);
        var getImage = reader.CreateReader(cursor);
        var buffer = new float[reader.Size];
        uint key = 0;
        long row = 0;
        while (cursor.MoveNext())
        {
            getLabel(ref key);
            if (key == 0) throw new InvalidDataException($"Row {row} of the {what} data: label column '{labelColumn}' is missing (a value MapValueToKey did not know).");
            getImage(buffer, row);
            pixels.AddRange(buffer);
            labels.Add((int)key - 1);
            row++;
        }
        int keys = (int)((KeyDataViewType)label.Type).Count;
        return new ImageSet(pixels.ToArray(), labels.ToArray(), reader.Channels, reader.Height, reader.Width, ImageSetDataView.KeyNames(label, keys));
    }

    Device SelectDevice(IChannel channel)
    {
        int? gpu = MLNetInternals.GpuDeviceId(_env);
        if (gpu is null) return CPU;
        if (cuda.is_available()) return new Device(DeviceType.CUDA, gpu.Value);
        if (!MLNetInternals.FallbackToCpu(_env))
            throw new InvalidOperationException($"{Name}: GPU {gpu} was requested (MLContext.GpuDeviceId) but CUDA is not available and MLContext.FallbackToCpu is false. " +
                "Build with -p:TorchBackend=cuda on a machine with an NVIDIA GPU and driver, or set FallbackToCpu = true.");
        channel.Warning(MessageSensitivity.None, $"{Name}: GPU {gpu} was requested but CUDA is not available; training on the CPU.");
        return CPU;
    }
}
