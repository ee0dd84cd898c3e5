using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// The one place that reaches behind ML.NET's public surface. (1) An estimator outside ML.NET cannot build
/// the SchemaShape.Column its GetOutputSchema must return: the constructor is internal. (2) A catalog extension gets no public route to
/// its MLContext: the catalog holds the context's environment behind the internal IInternalCatalog
/// interface, and the environment exposes GpuDeviceId, FallbackToCpu, Seed and IsCanceled on an internal
/// base class. Every member is looked up by name and a missing one throws, naming it, so that an ML.NET
/// release that moves them fails loudly (MLNetInternalsTests) instead of silently ignoring settings.
/// </summary>
internal static class MLNetInternals
{
    const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>The environment (and so the MLContext's log, seed and device settings) behind a catalog.</summary>
    public static IHostEnvironment EnvironmentOf(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var iface = catalog.GetType().GetInterfaces().FirstOrDefault(i => i.Name == "IInternalCatalog")
            ?? throw Changed($"{catalog.GetType().Name} no longer implements IInternalCatalog");
        var property = iface.GetProperty("Environment") ?? throw Changed("IInternalCatalog.Environment is gone");
        return property.GetValue(catalog) as IHostEnvironment ?? throw Changed("IInternalCatalog.Environment is not an IHostEnvironment");
    }

    public static int? GpuDeviceId(IHostEnvironment env) => (int?)Property(env, "GpuDeviceId");
    public static bool FallbackToCpu(IHostEnvironment env) => (bool)Property(env, "FallbackToCpu")!;
    public static int? Seed(IHostEnvironment env) => (int?)Property(env, "Seed");
    public static bool IsCanceled(IHostEnvironment env) => (bool)Property(env, "IsCanceled")!;

    /// <summary>A SchemaShape column through its internal constructor.</summary>
    public static SchemaShape.Column Column(string name, SchemaShape.Column.VectorKind kind, Microsoft.ML.Data.DataViewType itemType, bool isKey, SchemaShape? annotations = null)
    {
        var ctor = typeof(SchemaShape.Column).GetConstructors(Any).FirstOrDefault(c => c.GetParameters().Length == 5)
            ?? throw Changed("SchemaShape.Column's constructor is gone");
        return (SchemaShape.Column)ctor.Invoke(new object?[] { name, kind, itemType, isKey, annotations ?? new SchemaShape(Array.Empty<SchemaShape.Column>()) });
    }

    static object? Property(IHostEnvironment env, string name)
    {
        // MLContext forwards to its private LocalEnvironment; read from that one.
        object target = env is MLContext ml
            ? typeof(MLContext).GetField("_env", Any)?.GetValue(ml) ?? throw Changed("MLContext._env is gone")
            : env;
        for (var type = target.GetType(); type != null; type = type.BaseType)
        {
            var property = type.GetProperty(name, Any | BindingFlags.DeclaredOnly);
            if (property != null) return property.GetValue(target);
        }
        throw Changed($"{target.GetType().Name}.{name} is gone");
    }

    static NotSupportedException Changed(string what)
        => new($"MLNet.Bayesian cannot reach ML.NET internals it needs: {what}. This ML.NET version is not supported.");
}
