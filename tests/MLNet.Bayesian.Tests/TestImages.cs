using System.Buffers.Binary;
using System.IO.Compression;
using SkiaSharp;

namespace MLNet.Bayesian.Tests;

/// <summary>Test images made in code: noise bitmaps in any colour type, encoded files, and PNGs Skia cannot write (palette, 16-bit).</summary>
internal static class TestImages
{
    public static SKBitmap Noise(int width, int height, SKColorType colorType, int seed, bool alpha = false)
    {
        var random = new Random(seed);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, colorType, alpha ? SKAlphaType.Unpremul : SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte v = (byte)random.Next(256);
                bitmap.SetPixel(x, y, new SKColor(v, (byte)(x * 6), (byte)(y * 9), alpha ? (byte)(x * 6) : (byte)255));
            }
        return bitmap;
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using (bitmap)
        using (var data = bitmap.Encode(format, 90))
            return data.ToArray();
    }

    // Skia (2.88 and 3) cannot write palette or 16-bit PNGs, so these are written by hand.
    public static byte[] PalettePng(int width, int height)
    {
        var rows = new byte[height * (width + 1)];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) rows[y * (width + 1) + 1 + x] = (byte)((x + y) % 4);
        return Png(width, height, bitDepth: 8, colourType: 3, rows, palette: [0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255]);
    }

    public static byte[] Gray16Png(int width, int height)
    {
        var rows = new byte[height * (1 + 2 * width)];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                BinaryPrimitives.WriteUInt16BigEndian(rows.AsSpan(y * (1 + 2 * width) + 1 + 2 * x), (ushort)(x * 6000 + y * 300));
        return Png(width, height, bitDepth: 16, colourType: 0, rows, palette: null);
    }

    /// <summary>A PNG from filtered scanlines (each row starts with its filter byte, 0 here).</summary>
    public static byte[] Png(int width, int height, byte bitDepth, byte colourType, byte[] rows, byte[]? palette)
    {
        var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = bitDepth;
        header[9] = colourType;
        Chunk(png, "IHDR", header);
        if (palette is not null) Chunk(png, "PLTE", palette);
        var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) zlib.Write(rows);
        Chunk(png, "IDAT", compressed.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    public static void Chunk(Stream png, string type, byte[] data)
    {
        var typeAndData = new byte[4 + data.Length];
        for (int i = 0; i < 4; i++) typeAndData[i] = (byte)type[i];
        data.CopyTo(typeAndData, 4);
        var number = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(number, data.Length);
        png.Write(number);
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(number, Crc32(typeAndData));
        png.Write(number);
    }

    public static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

}
