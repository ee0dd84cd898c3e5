using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>
/// The sets every method sees: Fashion-MNIST train and test, the test set rotated by 30 degrees and with
/// Gaussian noise of std 0.3 (clamped to [0, 1]), and scikit-learn's 8x8 digits drawn at 28x28 as
/// out-of-distribution images (bright ink on dark ground, Fashion-MNIST's polarity).
/// </summary>
internal sealed record BenchmarkData(string Name, ImageSet Train, ImageSet Test, ImageSet Rotated, ImageSet Noisy, ImageSet Ood)
{
    public const double RotationDegrees = 30, NoiseStd = 0.3;
    const string Subset = "tests/data/fashion-mnist-subset", Digits = "tests/data/digits/digits.csv.gz";

    /// <summary>
    /// The full data from the Debian package, or in quick mode the committed 2,000 + 1,000 image subset;
    /// <paramref name="trainImages"/> and <paramref name="testImages"/> (when set) keep the first images of each
    /// class, the same number per class (for architectures too slow for the whole set on a CPU).
    /// <paramref name="fullDataDirectory"/>: where the full data's IDX files are, when not in the Debian package's folder.
    /// </summary>
    public static BenchmarkData Load(bool quick, int? trainImages = null, int? testImages = null, string? fullDataDirectory = null)
    {
        var (name, train, test) = quick
            ? ("fashion-mnist-subset", FashionMnist.Load(train: true, Subset), FashionMnist.Load(train: false, Subset))
            : ("fashion-mnist", FashionMnist.Load(train: true, fullDataDirectory), FashionMnist.Load(train: false, fullDataDirectory));
        if (trainImages is int n) train = train.StratifiedHead(Math.Max(1, n / train.ClassNames.Count));
        if (testImages is int m) test = test.StratifiedHead(Math.Max(1, m / test.ClassNames.Count));
        if (trainImages is not null || testImages is not null) name += $" ({train.Count} train / {test.Count} test images)";
        var ood = DigitsCsvReader.ReadResized(Digits, test.Height);
        return new BenchmarkData(name, train, test, ImageOps.Rotate(test, RotationDegrees), ImageOps.AddGaussianNoise(test, NoiseStd, seed: 1), ood);
    }
}
