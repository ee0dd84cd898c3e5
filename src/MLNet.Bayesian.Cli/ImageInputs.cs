using Microsoft.ML;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Cli;

/// <summary>Where the CLI's images come from: a class-per-folder tree, or Fashion-MNIST written out as one.</summary>
internal static class ImageInputs
{
    public const string FashionMnistName = "fashion-mnist";

    /// <summary>
    /// Where images that the tool writes for itself go (Fashion-MNIST and the digits as PNG folders):
    /// <c>MLNET_BAYESIAN_CACHE</c>, else <c>~/.local/share/mlnet-bayesian</c>. Deleting it costs only the time to write them again.
    /// </summary>
    public static string CacheRoot => Environment.GetEnvironmentVariable("MLNET_BAYESIAN_CACHE") is { Length: > 0 } cache
        ? Path.GetFullPath(cache)
        : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "mlnet-bayesian");

    /// <summary>
    /// The folder to read: the given one, or for "fashion-mnist" the Debian data set written once as PNG
    /// folders under the user's cache (train or test split).
    /// </summary>
    public static string ResolveFolder(string data, bool train)
    {
        if (!string.Equals(data, FashionMnistName, StringComparison.OrdinalIgnoreCase)) return data;
        string cache = Path.Combine(CacheRoot, "fashion-mnist", train ? "train" : "test");
        string done = Path.Combine(cache, ".complete");
        if (!File.Exists(done))
        {
            // The saved model reads image files, so the pipeline trains from files too: written once, reused after.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
            var set = FashionMnist.Load(train);
            Console.WriteLine($"writing the {set.Count:N0} Fashion-MNIST {(train ? "training" : "test")} images as PNG files to {cache} (once; set MLNET_BAYESIAN_CACHE to put them elsewhere) ...");
            ImageFolder.Write(set, cache);
            Console.WriteLine($"wrote them in {clock.Elapsed.TotalSeconds:F0} s");
            File.WriteAllText(done, DateTime.UtcNow.ToString("O"));
        }
        return cache;
    }

    /// <summary>
    /// An out-of-distribution image folder: the given folder, or for a digits CSV (scikit-learn's 8x8 digits,
    /// .csv or .csv.gz) the digits resized to <paramref name="size"/> and written once as PNG under the cache.
    /// </summary>
    public static string ResolveOodFolder(string ood, int size)
    {
        if (Directory.Exists(ood)) return ood;
        if (!File.Exists(ood)) throw new FileNotFoundException($"--ood: '{ood}' is neither a folder nor a digits CSV file.", ood);
        string cache = Path.Combine(CacheRoot, "digits", $"{size}px");
        if (!File.Exists(Path.Combine(cache, ".complete")))
        {
            if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
            ImageFolder.Write(DigitsCsvReader.ReadResized(ood, size), cache);
            File.WriteAllText(Path.Combine(cache, ".complete"), DateTime.UtcNow.ToString("O"));
        }
        return cache;
    }

    /// <summary>The labelled entries of a folder, with absolute paths.</summary>
    public static IReadOnlyList<ImageFolderEntry> Entries(string folder)
        => ImageFolder.Read(folder).Select(e => new ImageFolderEntry { ImagePath = Path.GetFullPath(Path.Combine(folder, e.ImagePath)), Label = e.Label }).ToList();

    public static IDataView Load(MLContext ml, IEnumerable<ImageFolderEntry> entries) => ml.Data.LoadFromEnumerable(entries);

    /// <summary>
    /// The items whose image file this library reads (<see cref="ImageFileCheck.CheckFile"/>, before anything decodes
    /// it); the others go to <paramref name="unreadable"/> with what is wrong with the file.
    /// </summary>
    public static List<T> Readable<T>(IEnumerable<T> items, Func<T, string> file, List<(string File, string Error)> unreadable,
        long maxPixels = ImageFileCheck.DefaultMaxPixels)
    {
        var readable = new List<T>();
        foreach (var item in items)
        {
            try { ImageFileCheck.CheckFile(file(item), maxPixels); readable.Add(item); }
            catch (InvalidDataException e) { unreadable.Add((file(item), e.Message)); }
        }
        return readable;
    }
}
