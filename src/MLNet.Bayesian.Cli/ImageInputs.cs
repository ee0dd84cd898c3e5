using Microsoft.ML;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Cli;

/// <summary>Where the CLI's images come from: a class-per-folder tree, or Fashion-MNIST written out as one.</summary>
internal static class ImageInputs
{
    public const string FashionMnistName = "fashion-mnist";

    /// <summary>
    /// The folder to read: the given one, or for "fashion-mnist" the Debian data set written once as PNG
    /// folders under the user's cache (train or test split).
    /// </summary>
    public static string ResolveFolder(string data, bool train)
    {
        if (!string.Equals(data, FashionMnistName, StringComparison.OrdinalIgnoreCase)) return data;
        string cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "mlnet-bayesian", "fashion-mnist", train ? "train" : "test");
        string done = Path.Combine(cache, ".complete");
        if (!File.Exists(done))
        {
            Console.WriteLine($"writing Fashion-MNIST {(train ? "train" : "test")} images to {cache} (once)");
            if (Directory.Exists(cache)) Directory.Delete(cache, recursive: true);
            ImageFolder.Write(FashionMnist.Load(train), cache);
            File.WriteAllText(done, DateTime.UtcNow.ToString("O"));
        }
        return cache;
    }

    /// <summary>The labelled entries of a folder, with absolute paths.</summary>
    public static IReadOnlyList<ImageFolderEntry> Entries(string folder)
        => ImageFolder.Read(folder).Select(e => new ImageFolderEntry { ImagePath = Path.GetFullPath(Path.Combine(folder, e.ImagePath)), Label = e.Label }).ToList();

    public static IDataView Load(MLContext ml, IEnumerable<ImageFolderEntry> entries) => ml.Data.LoadFromEnumerable(entries);
}
