using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests;

/// <summary>The data committed under tests/data, copied next to the test assembly.</summary>
internal static class TestData
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "data");
    public static string FashionMnistSubset => Path.Combine(Root, "fashion-mnist-subset");
    public static string DigitsCsv => Path.Combine(Root, "digits", "digits.csv.gz");

    static ImageSet? _train, _test;
    public static ImageSet Train => _train ??= FashionMnist.Load(train: true, FashionMnistSubset);
    public static ImageSet Test => _test ??= FashionMnist.Load(train: false, FashionMnistSubset);

    /// <summary>A fresh folder under the system temp folder, removed by the caller.</summary>
    public static string TempFolder()
    {
        string path = Path.Combine(Path.GetTempPath(), "mlnet-bayesian-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
