using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SkiaSharp;

namespace MLNet.Bayesian.Data;

/// <summary>What <see cref="ImageFileCheck"/> found in an image that decodes completely.</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Format">Encoded format: "PNG", "JPEG", "GIF", "BMP" or "WEBP".</param>
public readonly record struct ImageFileInfo(int Width, int Height, string Format);

/// <summary>
/// Checks encoded image bytes before training or scoring decodes them. The decoder behind ML.NET's
/// <c>MLImage</c> accepts a truncated file and fills the missing rows, so a cut-off download would
/// otherwise become a silently wrong training image; here every such file is an error that names it.
/// </summary>
public static class ImageFileCheck
{
    /// <summary>The default largest image, in pixels (16 megapixels: 64 MB once decoded to RGBA).</summary>
    public const long DefaultMaxPixels = 16_000_000;

    const string Readable = "PNG, JPEG, BMP, GIF or WebP";
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>
    /// Reads the header of <paramref name="encoded"/>, checks its size against <paramref name="maxPixels"/>
    /// before allocating anything for the pixels, then decodes it completely.
    /// </summary>
    /// <param name="encoded">The bytes of an encoded image file.</param>
    /// <param name="source">Where the bytes come from (a path or a row); every error message starts with it.</param>
    /// <param name="maxPixels">The largest width × height accepted.</param>
    /// <returns>The width, height and format of the image.</returns>
    /// <exception cref="InvalidDataException">The bytes are empty, not a supported image, too large, truncated or damaged.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPixels"/> is not positive.</exception>
    public static ImageFileInfo Check(ReadOnlySpan<byte> encoded, string source, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(source);
        return CheckEncoded(encoded, $"'{source}'", maxPixels);
    }

    /// <summary>As <see cref="Check"/>, with every message starting with <paramref name="subject"/> as given (e.g. "Row 3: the image in column 'Image'").</summary>
    internal static ImageFileInfo CheckEncoded(ReadOnlySpan<byte> encoded, string subject, long maxPixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPixels);
        string source = subject;
        if (encoded.IsEmpty) throw new InvalidDataException($"{source} is empty (0 bytes).");

        using var data = SKData.CreateCopy(encoded);
        // The codec takes ownership of the stream, even when it fails; disposing it afterwards is then a no-op.
        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var headerResult);
        string? sniffed = SniffFormat(encoded);
        if (codec is null)
        {
            if (sniffed is null)
                throw new InvalidDataException($"{source} is not an image this library reads ({Readable}); it starts with the bytes {Describe(encoded)}.");
            // Skia reports a damaged header as IncompleteInput too, so "truncated" would be a guess here.
            throw new InvalidDataException($"{source} looks like a {sniffed} (it starts with {Describe(encoded)}) but its header cannot be read, " +
                                           $"so the file is truncated or damaged (decoder: {headerResult}).");
        }

        string format = codec.EncodedFormat.ToString().ToUpperInvariant();
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Bmp
            or SKEncodedImageFormat.Gif or SKEncodedImageFormat.Webp))
            throw new InvalidDataException($"{source} is a {format} image, which this library does not read; convert it to PNG ({Readable} are read).");

        int width = codec.Info.Width, height = codec.Info.Height;
        if (width <= 0 || height <= 0)
            throw new InvalidDataException($"{source} is a damaged {format}: its header gives a size of {width}x{height}.");
        long pixels = (long)width * height;
        if (pixels > maxPixels)
            throw new InvalidDataException($"{source} is {width}x{height} = {pixels.ToString("N0", Invariant)} pixels, more than the limit of " +
                                           $"{maxPixels.ToString("N0", Invariant)}; resize it or raise MaxImagePixels.");

        var result = Decode(codec, width, height);
        if (result == SKCodecResult.IncompleteInput)
            throw new InvalidDataException($"{source} is a truncated {format}: the file ends before the {width}x{height} image does (decoder: {result}).");
        if (result is SKCodecResult.ErrorInInput or SKCodecResult.InvalidInput)
            throw new InvalidDataException($"{source} is a damaged {format}: the decoder reported {result}.");
        if (result != SKCodecResult.Success)
            throw new InvalidDataException($"{source} is a {width}x{height} {format} that cannot be decoded (decoder: {result}).");
        return new ImageFileInfo(width, height, format);
    }

    /// <summary>Reads the file at <paramref name="path"/> and checks it as <see cref="Check"/> does, naming the path in every error.</summary>
    /// <param name="path">The image file.</param>
    /// <param name="maxPixels">The largest width × height accepted.</param>
    /// <returns>The width, height and format of the image.</returns>
    /// <exception cref="InvalidDataException">The file cannot be read (the original exception is the inner one), or <see cref="Check"/> rejects it.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxPixels"/> is not positive.</exception>
    public static ImageFileInfo CheckFile(string path, long maxPixels = DefaultMaxPixels)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPixels);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"'{path}' does not exist.", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException
                                      or System.Security.SecurityException)
        {
            throw new InvalidDataException($"'{path}' cannot be read: {e.Message}", e);
        }
        return Check(bytes, path, maxPixels);
    }

    // The whole image is decoded, not just the header, because truncation and corrupt data only show up there.
    // RGBA 8888 is a target every Skia codec converts to (16-bit, palette and gray PNGs included); native memory
    // keeps a large image off the managed heap and allows one past 2 GB when the caller raised the limit.
    static SKCodecResult Decode(SKCodec codec, int width, int height)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        IntPtr buffer = Marshal.AllocHGlobal((nint)width * 4 * height);
        try { return codec.GetPixels(info, buffer); }
        finally { Marshal.FreeHGlobal(buffer); }
    }

    // Names the format a file claims by its signature, so that a file whose header Skia rejects is reported
    // as a damaged image of that format rather than as "not an image".
    static string? SniffFormat(ReadOnlySpan<byte> b)
    {
        if (b.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])) return "PNG";
        if (b.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])) return "JPEG";
        if (b.StartsWith("GIF8"u8)) return "GIF";
        if (b.StartsWith("BM"u8)) return "BMP";
        if (b.StartsWith("RIFF"u8) && b.Length >= 12 && b[8..12].SequenceEqual("WEBP"u8)) return "WEBP";
        return null;
    }

    // The first bytes as hex, and as text when they are printable, so the user can tell an HTML error page,
    // a text file or another format apart.
    static string Describe(ReadOnlySpan<byte> b)
    {
        var head = b[..Math.Min(8, b.Length)];
        string hex = Convert.ToHexString(head);
        var spaced = new StringBuilder();
        for (int i = 0; i < hex.Length; i += 2) spaced.Append(i == 0 ? "" : " ").Append(hex, i, 2);
        var text = new StringBuilder();
        foreach (byte c in head)
        {
            if (c >= 0x20 && c < 0x7F) text.Append((char)c);
            else if (c == '\n') text.Append("\\n");
            else if (c == '\r') text.Append("\\r");
            else if (c == '\t') text.Append("\\t");
            else return spaced.ToString();
        }
        return $"{spaced} (\"{text}\")";
    }
}
