using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Bayesian.MLNetIntegration;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

/// <summary>Test access to the internal accessor.</summary>
internal static class MLNetInternalsProbe
{
    public static IHostEnvironment Environment(object catalog) => MLNetInternals.EnvironmentOf(catalog);
    public static int? Seed(IHostEnvironment env) => MLNetInternals.Seed(env);
    public static int? Gpu(IHostEnvironment env) => MLNetInternals.GpuDeviceId(env);
    public static bool Fallback(IHostEnvironment env) => MLNetInternals.FallbackToCpu(env);
    public static bool Canceled(IHostEnvironment env) => MLNetInternals.IsCanceled(env);
    /// <summary>What Microsoft.ML.Experimental's mlContext.CancelExecution() does (that package is not served here).</summary>
    public static void CancelExecution(MLContext ml)
    {
        var env = typeof(MLContext).GetField("_env", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic)!.GetValue(ml)!;
        var cancelable = env.GetType().GetInterfaces().Single(i => i.Name == "ICancelable");
        cancelable.GetMethod("CancelExecution")!.Invoke(env, null);
    }

    public static SchemaShape.Column Column(string name) => MLNetInternals.Column(name, SchemaShape.Column.VectorKind.Scalar, Microsoft.ML.Data.NumberDataViewType.Single, false);
}
