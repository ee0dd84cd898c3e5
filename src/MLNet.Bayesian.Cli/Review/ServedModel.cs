using Microsoft.ML;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>
/// Loads the model the review server scores with, so that loading leaves no file behind: the decisions file is the only
/// file the server writes. ML.NET's ONNX transformer hands ONNX Runtime its graph as a file, which it writes to
/// <see cref="MLContext.TempFilePath"/> and deletes only when the model is disposed: a killed server would leave a copy
/// of the graph (tens of MB with a pretrained backbone) in the temporary folder each time. Here those files go to a
/// folder of the server's own, removed as soon as the model is loaded: ONNX Runtime has read the graph into its session
/// by then, and the server never saves the model (saving is what would read the file again). What the runtimes below
/// keep for themselves is theirs: ONNX Runtime's 51-byte session file '.ses' and the .NET runtime's diagnostics socket.
/// </summary>
internal static class ServedModel
{
    public static ITransformer Load(MLContext ml, string zip, out DataViewSchema inputSchema)
    {
        string scratch = Directory.CreateTempSubdirectory("mlnet-bayesian-review-").FullName;
        string previous = ml.TempFilePath;
        try
        {
            ml.TempFilePath = scratch;
            return BayesianModel.Load(ml, zip, out inputSchema);
        }
        finally
        {
            ml.TempFilePath = previous;
            Directory.Delete(scratch, recursive: true);
        }
    }
}
