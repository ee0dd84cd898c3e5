using System.IO.Compression;
using Microsoft.ML;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Tests.MLNetIntegration;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Tests.Persistence;

/// <summary>A damaged model file is refused with an error naming it; it never loads and scores with silently changed numbers.</summary>
[TestClass]
public sealed class IntegrityTests
{
    static string _images = "";

    [ClassInitialize]
    public static void Images(TestContext _)
    {
        _images = Path.Combine(TestData.TempFolder(), "probe");
        ImageFolder.Write(TestData.Test.StratifiedHead(2), _images);
    }

    static List<BayesianPrediction> Score(string zip)
    {
        var ml = new MLContext(seed: 3);
        var model = BayesianModel.Load(ml, zip, out _);
        var data = ImagePipelineTests.Load(ml, _images);
        return ml.Data.CreateEnumerable<BayesianPrediction>(model.Transform(data), reuseRowObject: false).ToList();
    }

    static bool SameScores(List<BayesianPrediction> a, List<BayesianPrediction> b)
        => a.Count == b.Count && a.Zip(b).All(p => p.First.Score.SequenceEqual(p.Second.Score) && p.First.MutualInformation == p.Second.MutualInformation);

    [TestMethod]
    public void EveryFlippedByteIsRefusedOrChangesNothing()
    {
        string zip = SaveLoadTests.Zip;
        var original = Score(zip);
        var bytes = File.ReadAllBytes(zip);
        var random = new Random(11);
        string folder = TestData.TempFolder();
        int refused = 0, unchanged = 0;
        for (int trial = 0; trial < 24; trial++)
        {
            var damaged = (byte[])bytes.Clone();
            int at = random.Next(bytes.Length);
            // Most trials flip one byte; every fourth flips a run of 16 (a torn sector).
            int length = trial % 4 == 3 ? Math.Min(16, bytes.Length - at) : 1;
            for (int i = at; i < at + length; i++) damaged[i] ^= (byte)(1 + random.Next(255));
            string path = Path.Combine(folder, $"damaged-{trial}.zip");
            File.WriteAllBytes(path, damaged);
            try
            {
                var scores = Score(path);
                Assert.IsTrue(SameScores(original, scores), $"flipping {length} byte(s) at {at} of {bytes.Length} loaded and changed the scores silently");
                unchanged++;
            }
            catch (InvalidDataException e)
            {
                StringAssert.Contains(e.Message, path, $"the error names the file (flip at {at})");
                refused++;
            }
        }
        Console.WriteLine($"24 damaged copies: {refused} refused with an error naming the file, {unchanged} loaded with unchanged scores (the flip fell where nothing is read)");
        Assert.IsTrue(refused >= 18, $"only {refused} of 24 damaged copies were refused");
    }

    [TestMethod]
    public void AMultiScoreRuleRoundTripsAndAnEarlierSingleScoreManifestStillReads()
    {
        var random = new Random(5);
        var validation = new ScoredRows(2, Enumerable.Range(0, 40).SelectMany(_ => new[] { 0.7f, 0.3f }).ToArray(), new int[40],
            new Dictionary<UncertaintyScore, float[]>
            {
                [UncertaintyScore.PredictiveEntropy] = Enumerable.Range(0, 40).Select(_ => random.NextSingle()).ToArray(),
                [UncertaintyScore.Energy] = Enumerable.Range(0, 40).Select(_ => -5 + random.NextSingle()).ToArray(),
                [UncertaintyScore.FeatureDistance] = Enumerable.Range(0, 40).Select(_ => 8 + 4 * random.NextSingle()).ToArray(),
            });
        var rule = UncertaintyEvaluator.FitReviewRule(validation, ReviewRule.DefaultScores, coverage: 0.8);
        string zip = Path.Combine(TestData.TempFolder(), "multi-rule.zip");
        var ml = SaveLoadTests.Context;
        var inputSchema = ml.Data.LoadFromEnumerable(Array.Empty<ImageFolderEntry>()).Schema;
        BayesianModel.Save(ml, SaveLoadTests.Model, inputSchema, zip, rule);
        var read = BayesianModel.Inspect(zip).ReviewRule!;
        Assert.AreEqual(rule, read);
        CollectionAssert.AreEqual(new[] { UncertaintyScore.PredictiveEntropy, UncertaintyScore.Energy, UncertaintyScore.FeatureDistance }, read.Scores.ToArray());
        Assert.AreEqual(ScoreCombination.Fisher, read.Combination);
        var row = new BayesianPrediction { PredictiveEntropy = 0.5f, Energy = -4.5f, FeatureDistance = 10 };
        Assert.AreEqual(rule.CombinedUncertainty(row.Value), read.CombinedUncertainty(row.Value), "the saved rule scores a row as the fitted one");

        // The manifest as the previous version wrote it: one score and threshold. The manifest is not among its own digests.
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Update))
        {
            var entry = archive.GetEntry(BayesianModel.ManifestEntry)!;
            System.Text.Json.Nodes.JsonNode manifest;
            using (var reader = new StreamReader(entry.Open())) manifest = System.Text.Json.Nodes.JsonNode.Parse(reader.ReadToEnd())!;
            manifest["ReviewRule"] = System.Text.Json.Nodes.JsonNode.Parse("""{ "Score": "MutualInformation", "Threshold": 0.029, "Coverage": 0.9, "Accuracy": 0.95 }""");
            entry.Delete();
            using var writer = new StreamWriter(archive.CreateEntry(BayesianModel.ManifestEntry).Open());
            writer.Write(manifest.ToJsonString());
        }
        var old = BayesianModel.Inspect(zip).ReviewRule!;
        Assert.AreEqual(new ReviewRule(UncertaintyScore.MutualInformation, 0.029, 0.9, 0.95), old);
        Assert.IsTrue(old.NeedsReview(new BayesianPrediction { MutualInformation = 0.05f }));
        Assert.IsFalse(old.NeedsReview(new BayesianPrediction { MutualInformation = 0.01f, PredictiveEntropy = 9 }), "only the old rule's score counts");
        Assert.AreEqual(Score(SaveLoadTests.Zip).Count, Score(zip).Count, "the model still loads and scores");
    }

    [TestMethod]
    public void TheManifestCoversEveryEntryAndCarriesTheReviewRule()
    {
        var rule = new ReviewRule(UncertaintyScore.PredictiveEntropy, 0.42, 0.9, 0.93);
        string folder = TestData.TempFolder();
        string zip = Path.Combine(folder, "with-manifest.zip");
        var ml = SaveLoadTests.Context;
        var inputSchema = ml.Data.LoadFromEnumerable(Array.Empty<ImageFolderEntry>()).Schema;
        BayesianModel.Save(ml, SaveLoadTests.Model, inputSchema, zip, rule);
        var info = BayesianModel.Inspect(zip);
        Assert.AreEqual(rule, info.ReviewRule);
        Assert.IsTrue(info.HasManifest);
        Assert.AreEqual(8, info.Samples);
        CollectionAssert.AreEqual(FashionMnist.ClassNames.OrderBy(n => n, StringComparer.Ordinal).ToArray(), info.Labels.OrderBy(n => n, StringComparer.Ordinal).ToArray());
        Assert.IsTrue(SameScores(Score(SaveLoadTests.Zip), Score(zip)), "the manifest changes nothing in the model");

        // A small entry rewritten by another tool (valid zip, valid CRC) is caught by its digest.
        string edited = Path.Combine(folder, "edited.zip");
        File.Copy(zip, edited);
        string victim;
        using (var archive = ZipFile.Open(edited, ZipArchiveMode.Update))
        {
            var entry = archive.Entries.Where(e => e.FullName != BayesianModel.ManifestEntry && !e.FullName.EndsWith("OnnxModel")).OrderBy(e => e.Length).First(e => e.Length > 0);
            victim = entry.FullName;
            byte[] content;
            using (var s = entry.Open()) { var m = new MemoryStream(); s.CopyTo(m); content = m.ToArray(); }
            content[^1] ^= 0x01;
            entry.Delete();
            using var w = archive.CreateEntry(victim).Open();
            w.Write(content);
        }
        var e1 = Assert.ThrowsExactly<InvalidDataException>(() => BayesianModel.Load(new MLContext(), edited, out _));
        StringAssert.Contains(e1.Message, edited);
        StringAssert.Contains(e1.Message, victim);

        string extra = Path.Combine(folder, "extra.zip");
        File.Copy(zip, extra);
        using (var archive = ZipFile.Open(extra, ZipArchiveMode.Update)) archive.CreateEntry("TransformerChain/Extra.bin").Open().Dispose();
        var e2 = Assert.ThrowsExactly<InvalidDataException>(() => BayesianModel.Inspect(extra));
        StringAssert.Contains(e2.Message, "Extra.bin");
    }

    [TestMethod]
    public void AGraphWithoutItsDigestOrWithAnOtherDigestIsRefused()
    {
        var onnx = MLNet.Bayesian.Persistence.BayesianOnnxExport.Export(
            ((IEnumerable<ITransformer>)SaveLoadTests.Model).OfType<MLNet.Bayesian.MLNetIntegration.BayesianImageClassificationTransformer>().Single().Model, 2, 1);
        var model = global::Onnx.ModelProto.Parser.ParseFrom(onnx);
        model.MetadataProps.Single(p => p.Key == "labels").Value = "[\"x\"]";
        var e = Assert.ThrowsExactly<InvalidDataException>(() => MLNet.Bayesian.Persistence.BayesianOnnxExport.ReadMetadata(Google.Protobuf.MessageExtensions.ToByteArray(model), "edited.onnx"));
        StringAssert.Contains(e.Message, "edited.onnx is damaged");
        model.MetadataProps.Remove(model.MetadataProps.Single(p => p.Key == MLNet.Bayesian.Onnx.OnnxDigest.Key));
        e = Assert.ThrowsExactly<InvalidDataException>(() => MLNet.Bayesian.Persistence.BayesianOnnxExport.ReadMetadata(Google.Protobuf.MessageExtensions.ToByteArray(model), "bare.onnx"));
        StringAssert.Contains(e.Message, "no 'content_sha256' digest");
    }
}
