using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>
/// Turns one value of the image column into the network's input: C x H x W floats in [0, 1]. Accepts an
/// <see cref="MLImage"/> (LoadImages), encoded bytes (LoadRawImageBytes) or a float vector (ExtractPixels,
/// planar C x H x W) whose size matches the configured shape. Images are resized bilinearly.
/// </summary>
internal sealed class ImageColumnReader
{
    internal enum Kind { Image, Bytes, Vector }

    readonly Kind _kind;
    readonly string _column;
    readonly float _vectorScale;

    public ImageColumnReader(DataViewSchema.Column column, int channels, int height, int width, float vectorScale)
    {
        _column = column.Name;
        Channels = channels; Height = height; Width = width; _vectorScale = vectorScale;
        _kind = column.Type switch
        {
            ImageDataViewType => Kind.Image,
            VectorDataViewType { ItemType: NumberDataViewType n } v when n.RawType == typeof(byte) && !v.IsKnownSize => Kind.Bytes,
            VectorDataViewType { ItemType: NumberDataViewType n } v when n.RawType == typeof(float) => Kind.Vector,
            _ => throw new ArgumentException(
                $"Image column '{column.Name}' is {column.Type}. Expected an image (mlContext.Transforms.LoadImages), raw bytes " +
                "(LoadRawImageBytes) or a known-size float vector of pixels (ExtractPixels)."),
        };
        if (_kind == Kind.Vector)
        {
            var v = (VectorDataViewType)column.Type;
            if (!v.IsKnownSize || v.Size != channels * height * width)
                throw new ArgumentException($"Pixel column '{column.Name}' has {(v.IsKnownSize ? v.Size.ToString() : "variable")} values; " +
                    $"the options' shape {channels}x{height}x{width} needs {channels * height * width}. Set ImageChannels, ImageHeight and ImageWidth.");
        }
    }

    public string ColumnName => _column;
    public Kind InputKind => _kind;
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int Size => Channels * Height * Width;

    /// <summary>A getter that writes the image of the current row into <c>destination</c>; <c>rowId</c> names the row in errors.</summary>
    public Action<Span<float>, long> CreateReader(DataViewRow row)
    {
        var column = row.Schema[_column];
        switch (_kind)
        {
            case Kind.Image:
            {
                var getter = row.GetGetter<MLImage>(column);
                MLImage image = null!;
                return (destination, rowId) =>
                {
                    try { getter(ref image); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException)
                    {
                        // LoadImages reads the file inside this getter: say which row and column failed.
                        throw new InvalidDataException($"Row {rowId}: image column '{_column}' could not be loaded: {e.Message}", e);
                    }
                    if (image is null) throw new InvalidDataException($"Row {rowId}: image column '{_column}' is empty (the file could not be loaded).");
                    Decode(image, destination, rowId);
                };
            }
            case Kind.Bytes:
            {
                var getter = row.GetGetter<VBuffer<byte>>(column);
                VBuffer<byte> bytes = default;
                return (destination, rowId) =>
                {
                    getter(ref bytes);
                    if (bytes.Length == 0) throw new InvalidDataException($"Row {rowId}: image column '{_column}' holds no bytes.");
                    using var image = DecodeBytes(bytes, _column, rowId);
                    Decode(image, destination, rowId);
                };
            }
            default:
            {
                var getter = row.GetGetter<VBuffer<float>>(column);
                VBuffer<float> values = default;
                return (destination, rowId) =>
                {
                    getter(ref values);
                    if (values.Length != Size)
                        throw new InvalidDataException($"Row {rowId}: pixel column '{_column}' has {values.Length} values, expected {Size}.");
                    int i = 0;
                    foreach (float v in values.DenseValues()) destination[i++] = v * _vectorScale;
                };
            }
        }
    }

    void Decode(MLImage image, Span<float> destination, long rowId)
    {
        if (image.Width <= 0 || image.Height <= 0) throw new InvalidDataException($"Row {rowId}: image column '{_column}' holds an empty image.");
        var pixels = image.Pixels;
        int bytesPerPixel = image.BitsPerPixel / 8;
        if (bytesPerPixel < 3) throw new InvalidDataException($"Row {rowId}: image column '{_column}' has {image.BitsPerPixel} bits per pixel; 24 or 32 are supported.");
        bool bgra = image.PixelFormat == MLPixelFormat.Bgra32;
        int w = image.Width, h = image.Height;
        Span<float> rgb = stackalloc float[3];
        for (int y = 0; y < Height; y++)
        {
            float fy = Math.Clamp((y + 0.5f) * h / Height - 0.5f, 0, h - 1);
            int y0 = (int)fy, y1 = Math.Min(y0 + 1, h - 1);
            float wy = fy - y0;
            for (int x = 0; x < Width; x++)
            {
                float fx = Math.Clamp((x + 0.5f) * w / Width - 0.5f, 0, w - 1);
                int x0 = (int)fx, x1 = Math.Min(x0 + 1, w - 1);
                float wx = fx - x0;
                for (int c = 0; c < 3; c++)
                {
                    int channel = bgra ? 2 - c : c;
                    float s00 = pixels[(y0 * w + x0) * bytesPerPixel + channel], s01 = pixels[(y0 * w + x1) * bytesPerPixel + channel];
                    float s10 = pixels[(y1 * w + x0) * bytesPerPixel + channel], s11 = pixels[(y1 * w + x1) * bytesPerPixel + channel];
                    float top = s00 * (1 - wx) + s01 * wx;
                    float bottom = s10 * (1 - wx) + s11 * wx;
                    rgb[c] = (top * (1 - wy) + bottom * wy) / 255f;
                }
                int p = y * Width + x;
                if (Channels == 1) destination[p] = (rgb[0] + rgb[1] + rgb[2]) / 3f;
                else for (int c = 0; c < 3; c++) destination[c * Height * Width + p] = rgb[c];
            }
        }
    }

    /// <summary>Decodes encoded image bytes (PNG, JPEG, ...); the error names the row and column.</summary>
    public static MLImage DecodeBytes(VBuffer<byte> bytes, string column, long rowId)
    {
        try { return MLImage.CreateFromStream(new MemoryStream(bytes.DenseValues().ToArray())); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException or NullReferenceException)
        {
            throw new InvalidDataException($"Row {rowId}: the bytes in image column '{column}' are not a readable image ({e.Message}).", e);
        }
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
