using SkiaSharp;

namespace MLNet.Bayesian.Data;

/// <summary>One image file of a class-per-folder tree: the ML.NET / Model Builder convention.</summary>
public sealed class ImageFolderEntry
{
    /// <summary>Path of the image file, relative to the folder that was read.</summary>
    public string ImagePath { get; set; } = "";
    /// <summary>Class name: the name of the folder that holds the file.</summary>
    public string Label { get; set; } = "";
}

/// <summary>Reads and writes image folders laid out as one sub-folder per class.</summary>
public static class ImageFolder
{
    static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

    /// <summary>Lists every image file below <paramref name="root"/>, labelled by its class folder, sorted by path.</summary>
    public static IReadOnlyList<ImageFolderEntry> Read(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"Image folder '{root}' does not exist.");
        var entries = new List<ImageFolderEntry>();
        foreach (string classDir in Directory.GetDirectories(root).OrderBy(d => d, StringComparer.Ordinal))
            foreach (string file in Directory.GetFiles(classDir).OrderBy(f => f, StringComparer.Ordinal))
                if (IsImageFile(file))
                    entries.Add(new ImageFolderEntry { ImagePath = Path.GetRelativePath(root, file), Label = Path.GetFileName(classDir) });
        if (entries.Count == 0)
            throw new InvalidDataException($"Image folder '{root}' holds no images: expected one sub-folder per class with PNG or JPEG files.");
        return entries;
    }

    /// <summary>Whether the file name has an image extension this library reads (PNG, JPEG, BMP, GIF, WebP).</summary>
    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Every image file below <paramref name="root"/> (any layout, recursively), sorted by path.</summary>
    public static List<string> ListImageFiles(string root)
        => Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Where(IsImageFile).OrderBy(f => f, StringComparer.Ordinal).ToList();

    /// <summary>Writes every image as PNG into <c>root/class name/index.png</c>.</summary>
    public static void Write(ImageSet set, string root)
    {
        for (int c = 0; c < set.ClassNames.Count; c++)
            Directory.CreateDirectory(Path.Combine(root, set.ClassNames[c]));
        for (int n = 0; n < set.Count; n++)
        {
            string path = Path.Combine(root, set.ClassNames[set.Labels[n]], $"{n:D6}.png");
            Persistence.AtomicFile.WriteAllBytes(path, EncodePng(set, n));
        }
    }

    /// <summary>Encodes one image of the set as PNG bytes (gray or RGB).</summary>
    public static byte[] EncodePng(ImageSet set, int index)
    {
        if (set.Channels != 1 && set.Channels != 3)
            throw new ArgumentException($"Only gray (1) or RGB (3) images can be written, not {set.Channels} channels.");
        var image = set.Image(index);
        int plane = set.Height * set.Width;
        using var bitmap = new SKBitmap(set.Width, set.Height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        for (int y = 0; y < set.Height; y++)
            for (int x = 0; x < set.Width; x++)
            {
                int p = y * set.Width + x;
                byte r = ToByte(image[p]);
                byte g = set.Channels == 3 ? ToByte(image[plane + p]) : r;
                byte b = set.Channels == 3 ? ToByte(image[2 * plane + p]) : r;
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    static byte ToByte(float v) => (byte)Math.Clamp((int)Math.Round(v * 255), 0, 255);
}
