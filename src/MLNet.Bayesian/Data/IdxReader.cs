using System.Buffers.Binary;
using System.IO.Compression;

namespace MLNet.Bayesian.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST format), gzipped or not: a big-endian header
/// (0, 0, element type, dimension count, then one 32-bit size per dimension) followed by the data.
/// Only unsigned-byte data (type 0x08) is used by these data sets.
/// </summary>
internal static class IdxReader
{
    /// <summary>Reads an unsigned-byte IDX file: its dimensions and its data.</summary>
    public static (int[] Dimensions, byte[] Data) Read(string path)
    {
        byte[] bytes = ReadAllBytesMaybeGzip(path);
        if (bytes.Length < 4 || bytes[0] != 0 || bytes[1] != 0)
            throw new InvalidDataException($"'{path}' is not an IDX file (bad magic number).");
        if (bytes[2] != 0x08)
            throw new InvalidDataException($"'{path}' holds IDX element type 0x{bytes[2]:x2}; only unsigned bytes (0x08) are supported.");
        int rank = bytes[3];
        int headerLength = 4 + 4 * rank;
        if (rank == 0 || bytes.Length < headerLength)
            throw new InvalidDataException($"'{path}' is truncated: its IDX header is incomplete.");
        var dims = new int[rank];
        long expected = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4 + 4 * i));
            if (dims[i] < 0) throw new InvalidDataException($"'{path}' declares a negative size in dimension {i}.");
            expected *= dims[i];
        }
        long actual = bytes.Length - headerLength;
        if (actual != expected)
            throw new InvalidDataException($"'{path}' is truncated or corrupt: the header declares {expected} values, the file holds {actual}.");
        return (dims, bytes.AsSpan(headerLength).ToArray());
    }

    /// <summary>Reads an image file (N x H x W) and a label file (N) into an <see cref="ImageSet"/>.</summary>
    public static ImageSet ReadImageSet(string imagesPath, string labelsPath, IReadOnlyList<string> classNames)
    {
        var (imageDims, pixels) = Read(imagesPath);
        var (labelDims, labels) = Read(labelsPath);
        if (imageDims.Length != 3)
            throw new InvalidDataException($"'{imagesPath}' has {imageDims.Length} dimensions; an image file has 3 (count, rows, columns).");
        if (labelDims.Length != 1)
            throw new InvalidDataException($"'{labelsPath}' has {labelDims.Length} dimensions; a label file has 1.");
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"'{imagesPath}' holds {imageDims[0]} images but '{labelsPath}' holds {labelDims[0]} labels.");
        var values = new float[pixels.Length];
        for (int i = 0; i < pixels.Length; i++) values[i] = pixels[i] / 255f;
        var classes = new int[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classNames.Count)
                throw new InvalidDataException($"'{labelsPath}': label {labels[i]} at row {i} is outside the {classNames.Count} classes.");
            classes[i] = labels[i];
        }
        return new ImageSet(values, classes, 1, imageDims[1], imageDims[2], classNames);
    }

    /// <summary>Writes an unsigned-byte IDX file, gzipped when the name ends in .gz.</summary>
    public static void Write(string path, int[] dimensions, ReadOnlySpan<byte> data)
    {
        using var file = File.Create(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)
            ? new GZipStream(file, CompressionLevel.SmallestSize) : file;
        Span<byte> header = stackalloc byte[4];
        header[0] = 0; header[1] = 0; header[2] = 0x08; header[3] = (byte)dimensions.Length;
        stream.Write(header);
        foreach (int d in dimensions)
        {
            BinaryPrimitives.WriteInt32BigEndian(header, d);
            stream.Write(header);
        }
        stream.Write(data);
    }

    internal static byte[] ReadAllBytesMaybeGzip(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;
        try
        {
            using var gzip = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            return output.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is a corrupt or truncated gzip file: {e.Message}", e);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"'{path}' is a truncated gzip file.", e);
        }
    }
}
