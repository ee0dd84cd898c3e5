using System.Diagnostics;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using SkiaSharp;
using static MLNet.Bayesian.Tests.TestImages;

namespace MLNet.Bayesian.Tests.Data;

/// <summary>The check that turns every unreadable, truncated or oversized image file into an error naming it.</summary>
[TestClass]
public sealed class ImageFileCheckTests
{
    string dir = "";

    [TestInitialize]
    public void CreateFolder()
    {
        dir = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
    }

    [TestCleanup]
    public void DeleteFolder() => Directory.Delete(dir, recursive: true);

    string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestMethod]
    public void ValidImagesPassAndMLImageDecodesThemToTheSameSize()
    {
        byte[] grayPng = Encode(Noise(28, 28, SKColorType.Gray8, seed: 1), SKEncodedImageFormat.Png);
        Assert.AreEqual(0, grayPng[25], "Skia wrote a gray PNG (IHDR colour type 0)");
        byte[] alphaPng = Encode(Noise(40, 28, SKColorType.Rgba8888, seed: 2, alpha: true), SKEncodedImageFormat.Png);
        Assert.AreEqual(6, alphaPng[25], "Skia wrote an RGBA PNG (IHDR colour type 6)");
        var cases = new (string Name, byte[] Bytes, int Width, int Height, string Format)[]
        {
            ("gray.png", grayPng, 28, 28, "PNG"),
            ("colour.png", alphaPng, 40, 28, "PNG"),
            ("photo.jpg", Encode(Noise(48, 32, SKColorType.Rgba8888, seed: 3), SKEncodedImageFormat.Jpeg), 48, 32, "JPEG"),
            ("photo.webp", Encode(Noise(24, 20, SKColorType.Rgba8888, seed: 4), SKEncodedImageFormat.Webp), 24, 20, "WEBP"),
            ("palette.png", PalettePng(16, 12), 16, 12, "PNG"),
            ("gray16.png", Gray16Png(10, 7), 10, 7, "PNG"),
            ("pixel.gif", OnePixelGif, 1, 1, "GIF"),
        };
        foreach (var c in cases)
        {
            string path = Write(c.Name, c.Bytes);
            Assert.AreEqual(new ImageFileInfo(c.Width, c.Height, c.Format), ImageFileCheck.CheckFile(path), c.Name);
            Assert.AreEqual(new ImageFileInfo(c.Width, c.Height, c.Format), ImageFileCheck.Check(c.Bytes, c.Name), c.Name);
            using var stream = File.OpenRead(path);
            using var image = MLImage.CreateFromStream(stream);
            Assert.AreEqual((c.Width, c.Height), (image.Width, image.Height), $"MLImage reads {c.Name} too");
        }
    }

    [TestMethod]
    public void ATruncatedPngFailsTheCheckThoughMLImageDecodesIt()
    {
        byte[] png = Encode(Noise(28, 28, SKColorType.Gray8, seed: 5), SKEncodedImageFormat.Png);
        string path = Write("cut.png", png[..(png.Length * 6 / 10)]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.CheckFile(path));
        Assert.AreEqual($"'{path}' is a truncated PNG: the file ends before the 28x28 image does (decoder: IncompleteInput).", e.Message);
        // The reason for the check: ML.NET's decoder fills the missing rows and says nothing.
        using var stream = File.OpenRead(path);
        using var image = MLImage.CreateFromStream(stream);
        Assert.AreEqual(28, image.Width);
    }

    [TestMethod]
    public void ATruncatedJpegFailsTheCheck()
    {
        byte[] jpeg = Encode(Noise(64, 64, SKColorType.Rgba8888, seed: 6), SKEncodedImageFormat.Jpeg);
        string path = Write("cut.jpg", jpeg[..(jpeg.Length * 6 / 10)]);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.CheckFile(path));
        Assert.AreEqual($"'{path}' is a truncated JPEG: the file ends before the 64x64 image does (decoder: IncompleteInput).", e.Message);
    }

    [TestMethod]
    public void DamagedDataAndADamagedHeaderAreNamedDamaged()
    {
        byte[] png = Encode(Noise(64, 64, SKColorType.Rgba8888, seed: 8), SKEncodedImageFormat.Png);
        var random = new Random(0);
        for (int i = png.Length / 2; i < png.Length / 2 + 40; i++) png[i] = (byte)random.Next(256);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.Check(png, "noisy.png"));
        Assert.AreEqual("'noisy.png' is a damaged PNG: the decoder reported ErrorInInput.", e.Message);

        e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.Check("BMW cars"u8, "cars.bmp"));
        Assert.AreEqual("'cars.bmp' looks like a BMP (it starts with 42 4D 57 20 63 61 72 73 (\"BMW cars\")) but its header cannot be read, " +
                        "so the file is truncated or damaged (decoder: IncompleteInput).", e.Message);
    }

    [TestMethod]
    public void ATextFileAndAnEmptyFileAreNamedAsSuch()
    {
        string text = Write("notes.png", "this is not an image"u8.ToArray());
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.CheckFile(text));
        Assert.AreEqual($"'{text}' is not an image this library reads (PNG, JPEG, BMP, GIF or WebP); " +
                        "it starts with the bytes 74 68 69 73 20 69 73 20 (\"this is \").", e.Message);

        var binary = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.Check(new byte[] { 0, 1, 2 }, "x.bin"));
        Assert.AreEqual("'x.bin' is not an image this library reads (PNG, JPEG, BMP, GIF or WebP); it starts with the bytes 00 01 02.", binary.Message);

        string empty = Write("empty.png", []);
        e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.CheckFile(empty));
        Assert.AreEqual($"'{empty}' is empty (0 bytes).", e.Message);
    }

    [TestMethod]
    public void AHugeHeaderFailsFromTheHeaderWithoutAllocatingThePixels()
    {
        byte[] png = Png(100_000, 100_000, bitDepth: 8, colourType: 0, rows: new byte[16], palette: null);
        string path = Write("huge.png", png);
        long workingSetBefore = Process.GetCurrentProcess().WorkingSet64;
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.CheckFile(path));
        Assert.AreEqual($"'{path}' is 100000x100000 = 10,000,000,000 pixels, more than the limit of 16,000,000; resize it or raise MaxImagePixels.", e.Message);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        long grown = Process.GetCurrentProcess().WorkingSet64 - workingSetBefore;
        Assert.IsTrue(allocated < 200_000_000, $"{allocated:N0} managed bytes allocated");
        Assert.IsTrue(grown < 200_000_000, $"working set grew by {grown:N0} bytes");
    }

    [TestMethod]
    public void TheLimitIsTheCallersAndMustBePositive()
    {
        byte[] png = Encode(Noise(20, 20, SKColorType.Gray8, seed: 7), SKEncodedImageFormat.Png);
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.Check(png, "small.png", maxPixels: 100));
        Assert.AreEqual("'small.png' is 20x20 = 400 pixels, more than the limit of 100; resize it or raise MaxImagePixels.", e.Message);
        Assert.AreEqual(new ImageFileInfo(20, 20, "PNG"), ImageFileCheck.Check(png, "small.png", maxPixels: 400));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ImageFileCheck.Check(png, "small.png", maxPixels: 0));
        Assert.ThrowsExactly<ArgumentOutOfRangeException>(() => ImageFileCheck.CheckFile(Write("small.png", png), maxPixels: -1));
    }

    [TestMethod]
    public void AMissingFileNamesThePathAndKeepsTheOriginalError()
    {
        string path = Path.Combine(dir, "missing.png");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageFileCheck.CheckFile(path));
        Assert.AreEqual($"'{path}' does not exist.", e.Message);
        Assert.IsInstanceOfType<FileNotFoundException>(e.InnerException);
    }

    // The smallest GIF in common use: one white pixel (Skia has no GIF encoder).
    static readonly byte[] OnePixelGif =
    [
        .. "GIF89a"u8, 1, 0, 1, 0, 0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0,
        (byte)',', 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, (byte)';',
    ];
}
