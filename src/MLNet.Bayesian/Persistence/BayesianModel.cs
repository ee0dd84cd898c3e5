using System.IO.Compression;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Persistence;

/// <summary>What <see cref="BayesianModel.Inspect"/> reads from a saved model without loading it.</summary>
public sealed record SavedModelInfo(string Path, IReadOnlyList<string> Labels, int Samples, int Seed, string Stage, string Variant,
    string InputShape, ReviewRule? ReviewRule, bool HasManifest);

/// <summary>
/// Saving and loading pipelines that contain a Bayesian image classifier, with an integrity check.
/// <see cref="Save"/> is <c>mlContext.Model.Save</c> plus an entry "MLNet.Bayesian/manifest.json": a SHA-256 of
/// every other entry of the zip and, when given, the review rule tuned for the model. <see cref="Load"/> checks the
/// manifest (when the zip has one) and the digest inside every graph this library exported (always), so a damaged
/// file is refused with an error naming it instead of scoring with silently changed numbers.
/// </summary>
public static class BayesianModel
{
    /// <summary>The zip entry that holds the manifest.</summary>
    public const string ManifestEntry = "MLNet.Bayesian/manifest.json";
    const string ManifestFormat = "mlnet-bayesian-zip/1";

    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>
    /// Saves <paramref name="model"/> as <c>mlContext.Model.Save</c> does, then adds the manifest with the digests of
    /// every entry and <paramref name="reviewRule"/> (read back by <see cref="Inspect"/>; the CLI's score uses it).
    /// </summary>
    /// <remarks>The zip is written beside <paramref name="path"/> and renamed into place (<see cref="AtomicFile"/>): a save that
    /// fails, an export that throws say, leaves a model already at <paramref name="path"/> as it was.</remarks>
    public static void Save(MLContext mlContext, ITransformer model, DataViewSchema inputSchema, string path, ReviewRule? reviewRule = null)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        AtomicFile.Write(path, temporary =>
        {
            mlContext.Model.Save(model, inputSchema, temporary);
            using var archive = ZipFile.Open(temporary, ZipArchiveMode.Update);
            archive.GetEntry(ManifestEntry)?.Delete();
            var manifest = new Manifest(ManifestFormat, LibraryVersion, reviewRule,
                archive.Entries.ToDictionary(e => e.FullName, Digest, StringComparer.Ordinal));
            using var stream = archive.CreateEntry(ManifestEntry).Open();
            JsonSerializer.Serialize(stream, manifest, Json);
        });
    }

    /// <summary>
    /// Checks the file (manifest digests, graph digests) and loads it, registering this library with the context
    /// first. Every failure is an <see cref="InvalidDataException"/> (or <see cref="FileNotFoundException"/>) naming the file.
    /// </summary>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        Verify(path);
        Register(mlContext);
        // OnnxTransformer takes the context's GPU settings when it loads. Its fallback covers a GPU package on a machine
        // without a GPU, not the CPU package, which has no CUDA provider at all: decide that case here.
        int? gpu = mlContext.GpuDeviceId;
        bool withoutGpu = gpu is not null && !Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider");
        if (withoutGpu && !mlContext.FallbackToCpu)
            throw new InvalidOperationException($"GPU {gpu} was requested (MLContext.GpuDeviceId) to score '{path}', but this ONNX Runtime has no CUDA provider. " +
                "Build with -p:OnnxRuntimeBackend=gpu (Microsoft.ML.OnnxRuntime.Gpu.Linux), or set MLContext.FallbackToCpu = true.");
        try
        {
            if (withoutGpu) mlContext.GpuDeviceId = null;
            return mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is not (OutOfMemoryException or OperationCanceledException))
        {
            var cause = e is TargetInvocationException { InnerException: { } inner } ? inner : e;
            throw new InvalidDataException($"Model file '{path}' could not be loaded; it is corrupt, incomplete or from an incompatible version: {cause.Message}", e);
        }
        finally
        {
            mlContext.GpuDeviceId = gpu;
        }
    }

    /// <summary>
    /// The labels, S, seed and review rule of a saved model, read from its graph and manifest after checking them;
    /// throws as <see cref="Load"/> does for a damaged file.
    /// </summary>
    public static SavedModelInfo Inspect(string path)
    {
        var (manifest, graphs) = Verify(path);
        if (graphs.Count == 0) throw new InvalidDataException($"Model file '{path}' holds no Bayesian classifier (no graph exported by MLNet.Bayesian).");
        var m = graphs[0];
        int Int(string key) => int.Parse(m[key], System.Globalization.CultureInfo.InvariantCulture);
        return new SavedModelInfo(path, JsonSerializer.Deserialize<string[]>(m["labels"]) ?? Array.Empty<string>(), Int("samples"), Int("seed"),
            m["stage"], m["variant"], m["input_shape"], manifest?.ReviewRule, manifest is not null);
    }

    /// <summary>Makes the context able to load this library's saved parts (needed once before <c>mlContext.Model.Load</c>).</summary>
    public static void Register(MLContext mlContext) => mlContext.ComponentCatalog.RegisterAssembly(typeof(BayesianModel).Assembly);

    /// <summary>Checks the manifest (if any) and every graph this library exported; returns both.</summary>
    static (Manifest? Manifest, List<IReadOnlyDictionary<string, string>> Graphs) Verify(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model file '{path}' does not exist.", path);
        try
        {
            using var archive = ZipFile.OpenRead(path);
            var manifest = ReadManifest(archive, path);
            var graphs = new List<IReadOnlyDictionary<string, string>>();
            foreach (var entry in archive.Entries.Where(e => e.FullName.EndsWith("OnnxModel", StringComparison.Ordinal)))
            {
                byte[] onnx = OnnxBytes(entry, path);
                var model = OnnxDigest.Parse(onnx, $"Model file '{path}' (entry '{entry.FullName}')");
                if (!model.MetadataProps.Any(p => p.Key == "format" && p.Value.StartsWith("mlnet-bayesian-onnx/", StringComparison.Ordinal))) continue;
                graphs.Add(BayesianOnnxExport.ReadMetadata(onnx, $"Model file '{path}' (entry '{entry.FullName}')"));
            }
            return (manifest, graphs);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or JsonException or UnauthorizedAccessException && e is not FileNotFoundException)
        {
            if (e is InvalidDataException && e.Message.Contains(path, StringComparison.Ordinal)) throw;
            throw new InvalidDataException($"Model file '{path}' could not be read; it is corrupt or not a model zip: {e.Message}", e);
        }
    }

    static Manifest? ReadManifest(ZipArchive archive, string path)
    {
        var entry = archive.GetEntry(ManifestEntry);
        if (entry is null) return null;
        Manifest manifest;
        using (var stream = entry.Open())
            manifest = JsonSerializer.Deserialize<Manifest>(stream, Json)
                ?? throw new InvalidDataException($"Model file '{path}': the manifest is empty.");
        if (manifest.Format != ManifestFormat)
            throw new InvalidDataException($"Model file '{path}' has a manifest of format '{manifest.Format}'; this version reads '{ManifestFormat}'.");
        var present = archive.Entries.Where(e => e.FullName != ManifestEntry).ToDictionary(e => e.FullName, StringComparer.Ordinal);
        foreach (var (name, digest) in manifest.Entries)
        {
            if (!present.TryGetValue(name, out var e))
                throw new InvalidDataException($"Model file '{path}' is incomplete: entry '{name}' was saved but is missing.");
            if (Digest(e) != digest)
                throw new InvalidDataException($"Model file '{path}' is damaged: entry '{name}' does not match the SHA-256 digest written when it was saved. " +
                    "Restore the file from a copy or save the model again.");
        }
        foreach (var name in present.Keys)
            if (!manifest.Entries.ContainsKey(name))
                throw new InvalidDataException($"Model file '{path}' holds an entry '{name}' that was not in it when it was saved.");
        return manifest;
    }

    /// <summary>The ONNX bytes of an OnnxTransformer entry: ML.NET writes a 32-bit length, then the bytes.</summary>
    static byte[] OnnxBytes(ZipArchiveEntry entry, string path)
    {
        using var stream = entry.Open();
        using var reader = new BinaryReader(stream);
        int length = reader.ReadInt32();
        if (length < 0 || length > entry.Length)
            throw new InvalidDataException($"Model file '{path}' is damaged: entry '{entry.FullName}' declares {length} bytes of ONNX.");
        byte[] bytes = reader.ReadBytes(length);
        if (bytes.Length != length)
            throw new InvalidDataException($"Model file '{path}' is incomplete: entry '{entry.FullName}' ends after {bytes.Length} of {length} bytes.");
        return bytes;
    }

    static string Digest(ZipArchiveEntry entry)
    {
        using var stream = entry.Open();
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }

    static string LibraryVersion => typeof(BayesianModel).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    sealed record Manifest(string Format, string LibraryVersion, ReviewRule? ReviewRule, Dictionary<string, string> Entries);
}
