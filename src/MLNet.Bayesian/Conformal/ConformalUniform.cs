using System.Buffers.Binary;
using System.Security.Cryptography;

namespace MLNet.Bayesian.Conformal;

/// <summary>
/// The uniform draw u of a randomised set. It must be the same for a row however the row is scored (in any batch,
/// one row at a time in a PredictionEngine, in the saved model loaded in another process, which sees one row and
/// no position), so u is a SHA-256 hash of the seed and the bits of the row's probabilities, not a draw from a
/// stream. Rounding the probabilities first was tried on paper and rejected: confident rows (p = 0.9999..., the
/// rest near 0) would round alike and share one u, so a whole test set's confident rows would be in or out together.
/// The price of hashing the exact bits: the in-memory network and the saved model's ONNX graph agree to about 1e-6,
/// not to the bit, so a randomised set of one row may differ between the two (it is the same in distribution); the
/// deterministic sets (the default) differ only for a row whose score is within that error of the threshold.
/// </summary>
internal static class ConformalUniform
{
    /// <summary>A number in [0, 1) from <paramref name="seed"/> and the probabilities' bits.</summary>
    public static double Of(ReadOnlySpan<float> probabilities, int seed)
    {
        Span<byte> bytes = stackalloc byte[4 + 4 * probabilities.Length];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, seed);
        for (int c = 0; c < probabilities.Length; c++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes[(4 + 4 * c)..], probabilities[c]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(bytes, hash);
        // 53 random bits make a double in [0, 1).
        return (BinaryPrimitives.ReadUInt64LittleEndian(hash) >> 11) * (1.0 / (1UL << 53));
    }
}
