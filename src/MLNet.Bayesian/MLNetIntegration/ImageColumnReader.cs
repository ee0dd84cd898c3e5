using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// Turns one value of the image column into the network's input: C x H x W floats in [0, 1]. Accepts an
/// <see cref="MLImage"/> (LoadImages), encoded bytes (LoadRawImageBytes) or a float vector (ExtractPixels,
/// planar C x H x W). Images go through <see cref="ImagePreprocessing"/>, the same ML.NET transformers the saved
/// model holds. Every bad value is an error that names the row and the column (and the file, when known):
/// an image file that is truncated, damaged or larger than the limit, or a pixel that is not a finite number.
/// </summary>
internal sealed class ImageColumnReader
{
    readonly ImageInputSpec _spec;
    readonly ITransformer? _preprocessing;
    readonly long _maxImagePixels;

    public ImageColumnReader(DataViewSchema.Column column, ImageInputSpec spec, ITransformer? preprocessing, long maxImagePixels)
    {
        _spec = spec;
        _preprocessing = preprocessing;
        _maxImagePixels = maxImagePixels;
        var kind = KindOf(column);
        if (kind != spec.Kind)
            throw new ArgumentException($"Image column '{column.Name}' is {column.Type} ({kind}); the model was trained on {spec.Kind} input in that column.");
        if (kind == ImageColumnKind.Vector && ((VectorDataViewType)column.Type).Size != spec.Size)
        {
            var v = (VectorDataViewType)column.Type;
            throw new ArgumentException($"Pixel column '{column.Name}' has {(v.IsKnownSize ? v.Size.ToString() : "variable")} values; " +
                $"the shape {spec.Channels}x{spec.Height}x{spec.Width} needs {spec.Size}. Set ImageChannels, ImageHeight and ImageWidth.");
        }
        if (kind != ImageColumnKind.Vector && preprocessing is null) throw new ArgumentNullException(nameof(preprocessing));
    }

    /// <summary>What a column holds, or an error naming it and the accepted types.</summary>
    public static ImageColumnKind KindOf(DataViewSchema.Column column) => column.Type switch
    {
        ImageDataViewType => ImageColumnKind.Image,
        VectorDataViewType { ItemType: NumberDataViewType n } v when n.RawType == typeof(byte) && !v.IsKnownSize => ImageColumnKind.Bytes,
        VectorDataViewType { ItemType: NumberDataViewType n, IsKnownSize: true } v when n.RawType == typeof(float) => ImageColumnKind.Vector,
        _ => throw new ArgumentException(
            $"Image column '{column.Name}' is {column.Type}. Expected an image (mlContext.Transforms.LoadImages), raw bytes " +
            "(LoadRawImageBytes) or a known-size float vector of pixels (ExtractPixels)."),
    };

    public string ColumnName => _spec.ColumnName;
    public int Size => _spec.Size;

    /// <summary>A getter that writes the image of the current row into <c>destination</c>; <c>rowId</c> names the row in errors.</summary>
    public Action<Span<float>, long> CreateReader(DataViewRow row)
    {
        var column = row.Schema[_spec.ColumnName];
        string name = _spec.ColumnName;
        switch (_spec.Kind)
        {
            case ImageColumnKind.Image:
            {
                var getter = row.GetGetter<MLImage>(column);
                var pixels = new ImagePixels(_preprocessing!, name, PixelsColumn);
                MLImage image = null!;
                return (destination, rowId) =>
                {
                    try { getter(ref image); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
                    {
                        // LoadImages reads the file inside this getter: say which row and column failed.
                        throw new InvalidDataException($"Row {rowId}: image column '{name}' could not be loaded: {e.Message}", e);
                    }
                    if (image is null || image.Width <= 0 || image.Height <= 0)
                        throw new InvalidDataException($"Row {rowId}: image column '{name}' is empty (the file could not be loaded).");
                    CheckDecoded(image, rowId);
                    pixels.Extract(image, destination);
                };
            }
            case ImageColumnKind.Bytes:
            {
                var getter = row.GetGetter<VBuffer<byte>>(column);
                var pixels = new ImagePixels(_preprocessing!, name, PixelsColumn);
                VBuffer<byte> bytes = default;
                return (destination, rowId) =>
                {
                    getter(ref bytes);
                    using var image = DecodeBytes(bytes, name, rowId, _maxImagePixels);
                    pixels.Extract(image, destination);
                };
            }
            default:
            {
                var getter = row.GetGetter<VBuffer<float>>(column);
                VBuffer<float> values = default;
                float scale = _spec.VectorPixelScale;
                return (destination, rowId) =>
                {
                    getter(ref values);
                    if (values.Length != Size)
                        throw new InvalidDataException($"Row {rowId}: pixel column '{name}' has {values.Length} values, expected {Size}.");
                    int i = 0;
                    foreach (float v in values.DenseValues())
                    {
                        if (!float.IsFinite(v))
                            throw new InvalidDataException($"Row {rowId}: pixel column '{name}' holds {v.ToString(System.Globalization.CultureInfo.InvariantCulture)} at position {i}; pixels must be finite numbers.");
                        destination[i++] = v * scale;
                    }
                };
            }
        }
    }

    /// <summary>The name under which the in-memory preprocessing chain writes the pixels.</summary>
    internal const string PixelsColumn = "__mlnb_pixels";

    /// <summary>
    /// An image LoadImages decoded: refuse it when it is larger than the limit, and, when its file is known (LoadImages
    /// tags each image with its path), when the file is truncated or damaged: the decoder fills missing rows silently.
    /// </summary>
    void CheckDecoded(MLImage image, long rowId)
    {
        string file = image.Tag is { Length: > 0 } path ? $" (file '{path}')" : "";
        if ((long)image.Width * image.Height > _maxImagePixels)
            throw new InvalidDataException($"Row {rowId}: image column '{_spec.ColumnName}'{file} holds a {image.Width}x{image.Height} image, " +
                $"{(long)image.Width * image.Height:N0} pixels, more than MaxImagePixels ({_maxImagePixels:N0}).");
        if (image.Tag is { Length: > 0 } tagged && File.Exists(tagged))
        {
            try { ImageFileCheck.CheckFile(tagged, _maxImagePixels); }
            catch (InvalidDataException e) { throw new InvalidDataException($"Row {rowId}: image column '{_spec.ColumnName}': {e.Message}", e); }
        }
    }

    /// <summary>Checks and decodes encoded image bytes (PNG, JPEG, ...); errors name the row and the column.</summary>
    public static MLImage DecodeBytes(VBuffer<byte> bytes, string column, long rowId, long maxImagePixels)
    {
        var encoded = bytes.DenseValues().ToArray();
        ImageFileCheck.CheckEncoded(encoded, $"Row {rowId}: the image in column '{column}'", maxImagePixels);
        return MLImage.CreateFromStream(new MemoryStream(encoded));
    }

    /// <summary>Whether an image is gray: R = G = B at every pixel.</summary>
    public static bool IsGray(MLImage image)
    {
        var pixels = image.Pixels;
        int bpp = image.BitsPerPixel / 8;
        for (int i = 0; i + 2 < pixels.Length; i += bpp)
            if (pixels[i] != pixels[i + 1] || pixels[i + 1] != pixels[i + 2]) return false;
        return true;
    }
}
