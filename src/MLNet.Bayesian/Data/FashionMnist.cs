namespace MLNet.Bayesian.Data;

/// <summary>Fashion-MNIST (Zalando, MIT licence): 60,000 train and 10,000 test gray 28x28 images, 10 classes.</summary>
public static class FashionMnist
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The command that installs the full data set.</summary>
    public const string InstallCommand = "sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist";

    /// <summary>Class names, indexed by label.</summary>
    public static readonly IReadOnlyList<string> ClassNames = new[]
    {
        "T-shirt-top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle-boot",
    };

    /// <summary>Loads the train or test split from a folder holding the four IDX files (gzipped or not).</summary>
    public static ImageSet Load(bool train, string? directory = null)
    {
        directory ??= DebianDirectory;
        string prefix = train ? "train" : "t10k";
        string images = Find(directory, $"{prefix}-images-idx3-ubyte");
        string labels = Find(directory, $"{prefix}-labels-idx1-ubyte");
        return IdxReader.ReadImageSet(images, labels, ClassNames);
    }

    static string Find(string directory, string stem)
    {
        foreach (string name in new[] { stem + ".gz", stem })
        {
            string path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        string hint = Path.GetFullPath(directory) == DebianDirectory
            ? $" Install the full data set with: {InstallCommand}"
            : "";
        throw new FileNotFoundException($"Fashion-MNIST file '{Path.Combine(directory, stem)}[.gz]' was not found.{hint}", Path.Combine(directory, stem + ".gz"));
    }
}
