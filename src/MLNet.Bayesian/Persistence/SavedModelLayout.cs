using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Backbones;
using MLNet.Bayesian.Conformal;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Training;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Persistence;

/// <summary>What a saved Bayesian classifier is made of.</summary>
internal sealed record SavedModelContents(BayesianImageClassifier Model, ImageInputSpec Input, IReadOnlyList<string> ClassNames,
    string PredictedLabelColumnName, string ScoreColumnName, int Samples, int Seed, ConformalCalibration? Conformal = null, ImageFeaturizer? Featurizer = null);

/// <summary>
/// How a Bayesian image classifier is saved. ML.NET lets a library outside it persist only through its public
/// transformers, so the classifier saves itself as this chain (its parts, in order, inside the model zip):
/// <code>
///   1. image input only: ImagePreprocessing's ResizeImages (Fill) [+ ConvertToGrayscale] + ExtractPixels
///      into "__mlnb_pixels"; a pixel-vector input goes into the graph under its own column name
///   2. OnnxTransformer: the graph of BayesianOnnxExport.ExportRows, S posterior draws (seed, s), with a backbone's
///      graph in front when the model has one (the pixels in, its features into the head); its bytes
///      are an entry ".../OnnxModel" of the zip, with a content_sha256 digest in the graph's metadata;
///      outputs: the Score column [K] and "__mlnb_statistics" [6] (the scalar statistics of
///      OnnxOutputSqueeze.Scores, in that order), "__mlnb_predicted_class" [1] int64
///   3. CustomMapping "MLNet.Bayesian.OnnxOutputSqueeze.v3": the scalar output columns and
///      "__mlnb_predicted_class_scalar"
///   4. MapValue: the class index to the PredictedLabel key with the training label's key values
///   5. with a conformal calibration only: MapValue of the class index to the calibration's parameters
///      "__mlnb_conformal_parameters" (the same vector for every class), CopyColumns of Score to
///      "__mlnb_conformal_scores", CustomMapping "MLNet.Bayesian.ConformalSet.v1": PredictionSet, PredictionSetSize
///   6. DropColumns: every "__mlnb_" column
/// </code>
/// BayesianModel.Save adds "MLNet.Bayesian/manifest.json" (a SHA-256 of every other entry and the review rule);
/// BayesianModel.Load checks it and the graph's digest. Raw-byte image columns cannot be saved: no public ML.NET
/// transform decodes bytes into an image.
/// </summary>
internal static class SavedModelLayout
{
    internal const string PixelsColumn = "__mlnb_pixels", PredictedClassColumn = "__mlnb_predicted_class";

    /// <summary>Writes the chain into <paramref name="ctx"/>.</summary>
    public static void Save(ModelSaveContext ctx, SavedModelContents contents)
    {
        string file = Path.Combine(Path.GetTempPath(), $"mlnet-bayesian-{Guid.NewGuid():N}.onnx");
        try
        {
            // OnnxTransformer reads the file again when it saves itself; only then can it go.
            var chain = Build(contents, file);
            ((ICanSaveModel)chain).Save(ctx);
            (chain as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The chain of public ML.NET transformers, with its ONNX graph written to <paramref name="onnxFile"/>.</summary>
    internal static ITransformer Build(SavedModelContents contents, string onnxFile)
    {
        var ml = new MLContext(contents.Seed);
        var input = contents.Input;
        var temporaries = new List<string> { OnnxOutputSqueeze.StatisticsColumn, PredictedClassColumn, OnnxOutputSqueeze.PredictedClassScalarColumn };
        IEstimator<ITransformer> chain;
        IDataView empty;
        string pixels;
        switch (input.Kind)
        {
            case ImageColumnKind.Image:
                pixels = PixelsColumn;
                chain = ImagePreprocessing.Estimator(ml, input, pixels);
                temporaries.AddRange(ImagePreprocessing.Intermediates(input));
                temporaries.Add(pixels);
                empty = ImagePreprocessing.EmptyImages(ml, input.ColumnName);
                break;
            case ImageColumnKind.Vector:
                // A pixel vector goes into the graph under its own name, so that ONNX Runtime's shape errors name it.
                pixels = input.ColumnName;
                chain = new EstimatorChain<ITransformer>();
                empty = EmptyVectors(ml, input);
                break;
            default:
                throw new NotSupportedException($"A model trained on raw image bytes (column '{input.ColumnName}') cannot be saved: no public ML.NET " +
                    "transform decodes bytes into an image. Load images with mlContext.Transforms.LoadImages instead, or export the bare ONNX graph with BayesianOnnxExport.");
        }

        var outputs = new Dictionary<string, string>
        {
            [BayesianOnnxExport.ProbabilitiesOutput] = contents.ScoreColumnName,
            [BayesianOnnxExport.PredictedClassOutput] = PredictedClassColumn,
        };
        float inputScale = input.Kind == ImageColumnKind.Vector ? input.VectorPixelScale : 1f;
        byte[] onnx = BayesianOnnxExport.ExportRows(contents.Model, contents.Samples, contents.Seed, inputScale, pixels, outputs,
            (OnnxOutputSqueeze.StatisticsColumn, OnnxOutputSqueeze.Scores), contents.Featurizer);
        File.WriteAllBytes(onnxFile, onnx);
        var estimator = chain
            .Append(ml.Transforms.ApplyOnnxModel(outputColumnNames: new[] { contents.ScoreColumnName, OnnxOutputSqueeze.StatisticsColumn, PredictedClassColumn },
                inputColumnNames: new[] { pixels }, modelFile: onnxFile,
                shapeDictionary: new Dictionary<string, int[]> { [pixels] = new[] { 1, input.Channels, input.Height, input.Width } },
                gpuDeviceId: null, fallbackToCpu: false))
            .Append(ml.Transforms.CustomMapping(new OnnxOutputSqueeze().GetMapping(), OnnxOutputSqueeze.ContractName))
            .Append(ml.Transforms.Conversion.MapValue(contents.PredictedLabelColumnName,
                contents.ClassNames.Select((name, i) => new KeyValuePair<long, string>(i, name)), OnnxOutputSqueeze.PredictedClassScalarColumn, treatValuesAsKeyType: true))
            .Append(ConformalStages(ml, contents, temporaries))
            .Append(ml.Transforms.DropColumns(temporaries.ToArray()));
        return estimator.Fit(empty);
    }

    static IEstimator<ITransformer> ConformalStages(MLContext ml, SavedModelContents contents, List<string> temporaries)
    {
        var stages = new EstimatorChain<ITransformer>();
        if (contents.Conformal is not { } conformal) return stages;
        temporaries.Add(ConformalSetMapping.ParametersColumn);
        temporaries.Add(ConformalSetMapping.ScoresColumn);
        double[] parameters = conformal.ToParameters();
        return stages
            .Append(ml.Transforms.Conversion.MapValue(ConformalSetMapping.ParametersColumn,
                Enumerable.Range(0, contents.ClassNames.Count).Select(i => new KeyValuePair<long, double[]>(i, parameters)), OnnxOutputSqueeze.PredictedClassScalarColumn))
            .Append(ml.Transforms.CopyColumns(ConformalSetMapping.ScoresColumn, contents.ScoreColumnName))
            .Append(ml.Transforms.CustomMapping(new ConformalSetMapping().GetMapping(), ConformalSetMapping.ContractName));
    }

    static IDataView EmptyVectors(MLContext ml, ImageInputSpec input)
    {
        var schema = SchemaDefinition.Create(typeof(VectorRow));
        schema[0].ColumnName = input.ColumnName;
        schema[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, input.Size);
        return ml.Data.LoadFromEnumerable(Array.Empty<VectorRow>(), schema);
    }

    sealed class VectorRow { public float[] Pixels { get; set; } = Array.Empty<float>(); }
}
