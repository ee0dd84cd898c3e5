using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests.Data;

/// <summary>The transforms that build the benchmark's shifted and out-of-distribution sets.</summary>
[TestClass]
public sealed class ImageOpsTests
{
    static ImageSet One(float[] pixels, int side) => new(pixels, new[] { 0 }, 1, side, side, new[] { "a" });

    [TestMethod]
    public void RotationByNinetyDegreesMovesTheTopToTheRightAndKeepsTheCentre()
    {
        var pixels = new float[25];
        pixels[0 * 5 + 2] = 1;      // top centre
        pixels[2 * 5 + 2] = 0.5f;   // centre
        var rotated = ImageOps.Rotate(One(pixels, 5), 90).Pixels;
        Assert.AreEqual(1, rotated[2 * 5 + 4], 1e-6, "top centre goes to middle right");
        Assert.AreEqual(0.5, rotated[2 * 5 + 2], 1e-6, "the centre stays");
        Assert.AreEqual(1.5, rotated.Sum(), 1e-5, "nothing else lights up");
        CollectionAssert.AreEqual(pixels, ImageOps.Rotate(One(pixels, 5), 0).Pixels, "0 degrees is the identity");
        var back = ImageOps.Rotate(ImageOps.Rotate(One(pixels, 5), 90), -90).Pixels;
        for (int i = 0; i < 25; i++) Assert.AreEqual(pixels[i], back[i], 1e-5, $"pixel {i} after +90 then -90");
    }

    [TestMethod]
    public void RotationByThirtyDegreesKeepsMostOfACentredImage()
    {
        var set = TestData.Test.StratifiedHead(2);
        var rotated = ImageOps.Rotate(set, 30);
        double before = set.Pixels.Sum(), after = rotated.Pixels.Sum();
        Assert.IsTrue(after > 0.85 * before && after < 1.05 * before, $"ink before {before:F0}, after {after:F0}");
        Assert.IsFalse(set.Pixels.SequenceEqual(rotated.Pixels));
        CollectionAssert.AreEqual(set.Labels, rotated.Labels);
    }

    [TestMethod]
    public void GaussianNoiseHasTheRequestedSpreadIsClampedAndSeeded()
    {
        var gray = One(Enumerable.Repeat(0.5f, 100 * 100).ToArray(), 100);
        var noisy = ImageOps.AddGaussianNoise(gray, 0.1, seed: 3).Pixels;
        double mean = noisy.Average(), std = Math.Sqrt(noisy.Average(v => (v - mean) * (v - mean)));
        Assert.AreEqual(0.5, mean, 0.005);
        Assert.AreEqual(0.1, std, 0.005);
        CollectionAssert.AreEqual(noisy, ImageOps.AddGaussianNoise(gray, 0.1, seed: 3).Pixels, "same seed, same noise");
        var clamped = ImageOps.AddGaussianNoise(One(new float[10000], 100), 0.3, seed: 1).Pixels;
        Assert.IsTrue(clamped.All(v => v >= 0 && v <= 1));
        Assert.AreEqual(0.3 / Math.Sqrt(2 * Math.PI), clamped.Average(), 0.01, "black ground: the mean of max(0, N(0, 0.3))");
    }

    [TestMethod]
    public void DigitsAreDrawnAt28PixelsWithBrightInk()
    {
        var digits = DigitsCsvReader.ReadResized(TestData.DigitsCsv, 28);
        Assert.AreEqual(1797, digits.Count);
        Assert.AreEqual(28, digits.Height);
        // Fashion-MNIST's polarity: dark ground (the border), bright object (the middle).
        double border = 0, middle = 0;
        for (int i = 0; i < digits.Count; i++)
        {
            var image = digits.Image(i);
            border += image[0] + image[27] + image[27 * 28] + image[27 * 28 + 27];
            middle += image[14 * 28 + 14] + image[13 * 28 + 13];
        }
        Assert.IsTrue(middle / 2 > 5 * border / 4, $"mean middle {middle / 2 / digits.Count:F3}, mean corner {border / 4 / digits.Count:F3}");
    }
}
