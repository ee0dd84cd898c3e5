using Microsoft.ML;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Loading saved pipelines that contain a Bayesian image classifier.</summary>
public static class BayesianModel
{
    /// <summary>
    /// Registers this library with the MLContext (needed once per context before <c>mlContext.Model.Load</c>
    /// of a model saved with a Bayesian classifier) and loads the zip, with errors that name the file.
    /// </summary>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file '{path}' does not exist.", path);
        Register(mlContext);
        try
        {
            return mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or InvalidOperationException or ArgumentException or IOException
                                      or System.Runtime.InteropServices.ExternalException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            throw new InvalidDataException($"Model file '{path}' could not be loaded; it is corrupt, incomplete or from an incompatible version: {e.Message}", e);
        }
    }

    /// <summary>Makes the context able to load this library's saved parts.</summary>
    public static void Register(MLContext mlContext) => mlContext.ComponentCatalog.RegisterAssembly(typeof(BayesianModel).Assembly);
}
