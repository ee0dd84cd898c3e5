using System.IO.Compression;
using Microsoft.ML;
using MLNet.Bayesian.Data;

namespace MLNet.Bayesian.Tests.Data;

[TestClass]
public sealed class ReaderTests
{
    [TestMethod]
    public void FashionMnistSubsetHasCountsLabelsAndKnownPixel()
    {
        var train = TestData.Train;
        Assert.AreEqual(2000, train.Count);
        Assert.AreEqual(1000, TestData.Test.Count);
        Assert.AreEqual((1, 28, 28), (train.Channels, train.Height, train.Width));
        for (int c = 0; c < 10; c++) Assert.AreEqual(200, train.Labels.Count(l => l == c));
        Assert.AreEqual(0, train.Labels.Min());
        Assert.AreEqual(9, train.Labels.Max());
        Assert.AreEqual(9, train.Labels[0], "the first training image is an ankle boot");
        Assert.AreEqual(217 / 255f, train.Image(0)[14 * 28 + 14], 1e-6f);
    }

    [TestMethod]
    public void UncompressedIdxReadsTheSame()
    {
        string dir = TestData.TempFolder();
        foreach (string name in new[] { "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" })
        {
            using var gz = new GZipStream(File.OpenRead(Path.Combine(TestData.FashionMnistSubset, name + ".gz")), CompressionMode.Decompress);
            using var output = File.Create(Path.Combine(dir, name));
            gz.CopyTo(output);
        }
        var plain = FashionMnist.Load(train: false, dir);
        CollectionAssert.AreEqual(TestData.Test.Labels, plain.Labels);
        CollectionAssert.AreEqual(TestData.Test.Pixels, plain.Pixels);
    }

    [TestMethod]
    public void TruncatedIdxNamesTheFile()
    {
        string dir = TestData.TempFolder();
        string path = Path.Combine(dir, "t10k-images-idx3-ubyte");
        var (dims, data) = IdxReader.Read(Path.Combine(TestData.FashionMnistSubset, "t10k-images-idx3-ubyte.gz"));
        IdxReader.Write(path, dims, data.AsSpan(0, data.Length - 100));
        var e = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.Read(path));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "truncated");
    }

    [TestMethod]
    public void CorruptGzipNamesTheFile()
    {
        string path = Path.Combine(TestData.TempFolder(), "broken-idx1-ubyte.gz");
        byte[] bytes = File.ReadAllBytes(Path.Combine(TestData.FashionMnistSubset, "t10k-labels-idx1-ubyte.gz"));
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var e = Assert.ThrowsExactly<InvalidDataException>(() => IdxReader.Read(path));
        StringAssert.Contains(e.Message, path);
    }

    [TestMethod]
    public void MissingFullDataSetSaysHowToInstallIt()
    {
        var e = Assert.ThrowsExactly<FileNotFoundException>(() => FashionMnist.Load(true, Path.Combine(TestData.TempFolder(), "nothing")));
        StringAssert.Contains(e.Message, "train-images-idx3-ubyte");
    }

    [TestMethod]
    public void DigitsCsvHasCountsLabelsAndKnownPixel()
    {
        var digits = DigitsCsvReader.Read(TestData.DigitsCsv);
        Assert.AreEqual(1797, digits.Count);
        Assert.AreEqual((8, 8), (digits.Height, digits.Width));
        Assert.AreEqual(0, digits.Labels.Min());
        Assert.AreEqual(9, digits.Labels.Max());
        Assert.AreEqual(0, digits.Labels[0]);
        Assert.AreEqual(5 / 16f, digits.Image(0)[2], 1e-6f, "row 1 of the file starts 0,0,5,13");
        var resized = DigitsCsvReader.ReadResized(TestData.DigitsCsv, 28);
        Assert.AreEqual((28, 28), (resized.Height, resized.Width));
        Assert.IsTrue(resized.Pixels.Max() <= 1f && resized.Pixels.Min() >= 0f);
    }

    [TestMethod]
    public void BadDigitsRowNamesFileAndLine()
    {
        string path = Path.Combine(TestData.TempFolder(), "digits.csv");
        File.WriteAllText(path, string.Join(",", Enumerable.Repeat("0", 65)) + "\n" + string.Join(",", Enumerable.Repeat("3", 64)) + "\n");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => DigitsCsvReader.Read(path));
        StringAssert.Contains(e.Message, path);
        StringAssert.Contains(e.Message, "line 2");
    }

    [TestMethod]
    public void ImageFolderRoundTripAndDataView()
    {
        string root = TestData.TempFolder();
        var few = TestData.Test.StratifiedHead(2);
        ImageFolder.Write(few, root);
        var entries = ImageFolder.Read(root);
        Assert.AreEqual(20, entries.Count);
        CollectionAssert.AreEquivalent(FashionMnist.ClassNames.ToArray(), entries.Select(e => e.Label).Distinct().ToArray());

        var ml = new MLContext(seed: 1);
        var view = few.ToDataView(ml);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(view).Transform(view);
        var back = ImageSetDataView.ToImageSet(keyed, "Label", "Pixels", 1, 28, 28);
        CollectionAssert.AreEqual(few.Pixels, back.Pixels);
        CollectionAssert.AreEqual(few.Labels.Select(l => few.ClassNames[l]).ToArray(), back.Labels.Select(l => back.ClassNames[l]).ToArray());

        var e = Assert.ThrowsExactly<ArgumentException>(() => ImageSetDataView.ToImageSet(view, "Label", "Pixels", 1, 28, 28));
        StringAssert.Contains(e.Message, "MapValueToKey");
    }
}
