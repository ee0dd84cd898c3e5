using System.Security.Cryptography;
using Google.Protobuf;
using Onnx;

namespace MLNet.Bayesian.Onnx;

/// <summary>
/// A SHA-256 digest of an exported graph, kept in its own metadata as <c>content_sha256</c>: of the graph (nodes
/// and initializers: the posterior draws, labels, everything that scores) and of every other metadata entry.
/// A byte flipped anywhere in the graph either breaks the protobuf or changes the digest, so a damaged model is
/// refused instead of scoring with silently changed weights.
/// </summary>
internal static class OnnxDigest
{
    /// <summary>The metadata key of the digest.</summary>
    public const string Key = "content_sha256";

    /// <summary>Adds the digest to <paramref name="model"/> (replacing an old one) and returns it.</summary>
    internal static ModelProto Seal(ModelProto model)
    {
        foreach (var old in model.MetadataProps.Where(p => p.Key == Key).ToList()) model.MetadataProps.Remove(old);
        model.MetadataProps.Add(new StringStringEntryProto { Key = Key, Value = Compute(model) });
        return model;
    }

    /// <summary>Parses ONNX bytes; <paramref name="source"/> names the file in the error when they are not ONNX.</summary>
    public static ModelProto Parse(byte[] onnx, string source)
    {
        try { return ModelProto.Parser.ParseFrom(onnx); }
        catch (InvalidProtocolBufferException e) { throw new InvalidDataException($"{source} is not a readable ONNX file: {e.Message}", e); }
    }

    /// <summary>
    /// Checks the digest of a parsed graph; <paramref name="source"/> names the file in errors. Throws
    /// <see cref="InvalidDataException"/> when it carries no digest or does not match it.
    /// </summary>
    public static void Verify(ModelProto model, string source)
    {
        var stored = model.MetadataProps.FirstOrDefault(p => p.Key == Key)?.Value;
        if (stored is null)
            throw new InvalidDataException($"{source} carries no '{Key}' digest: it was not written by this version of MLNet.Bayesian, or its metadata was damaged.");
        if (stored != Compute(model))
            throw new InvalidDataException($"{source} is damaged: its content does not match the SHA-256 digest written when it was saved. Save the model again or restore the file from a copy.");
    }

    static string Compute(ModelProto model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(model.Graph?.ToByteArray() ?? Array.Empty<byte>());
        foreach (var entry in model.MetadataProps.Where(p => p.Key != Key).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(entry.Key + "\0" + entry.Value + "\0"));
        }
        sha.AppendData(BitConverter.GetBytes(model.IrVersion));
        foreach (var opset in model.OpsetImport) sha.AppendData(System.Text.Encoding.UTF8.GetBytes($"{opset.Domain}:{opset.Version};"));
        return Convert.ToHexString(sha.GetHashAndReset()).ToLowerInvariant();
    }
}
