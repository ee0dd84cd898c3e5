using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using MLNet.Bayesian.Persistence;
using MLNet.Bayesian.Scoring;

namespace MLNet.Bayesian.Tests.MLNetIntegration;

[TestClass]
public sealed class ScoringMemoryTests
{
    [TestMethod]
    public void ScoringTenThousandRowsKeepsMemoryFlat()
    {
        var ml = new MLContext(seed: 1);
        var trainView = TestData.Train.StratifiedHead(30).ToDataView(ml);
        var keys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(trainView);
        using var model = ml.MulticlassClassification.Trainers.BayesianImageClassification(new BayesianImageClassificationTrainer.Options
        {
            ImageColumnName = "Pixels", ImageChannels = 1, ImageHeight = 28, ImageWidth = 28, VectorPixelScale = 1,
            DeterministicEpochs = 1, MeanFieldEpochs = 1, SharedEpochs = 1, BatchSize = 100, PredictionSamples = 2,
            SharedPosterior = { ComponentBudget = 16, MinMembers = 10 },
        }).Fit(keys.Transform(trainView));

        // 10,000 rows: the 1,000 test images ten times.
        var indices = Enumerable.Range(0, 10_000).Select(i => i % TestData.Test.Count).ToList();
        var scored = model.Transform(keys.Transform(TestData.Test.Select(indices).ToDataView(ml)));
        long rows = 0, after2k = 0, after10k = 0, tensorsAfter2k = 0, tensorsAfter10k = 0;
        using (var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == BayesianColumnNames.MutualInformation)))
        {
            var getter = cursor.GetGetter<float>(scored.Schema[BayesianColumnNames.MutualInformation]);
            float value = 0;
            while (cursor.MoveNext())
            {
                getter(ref value);
                rows++;
                if (rows == 2_000) { after2k = TestMemory.SettledResidentBytes(); tensorsAfter2k = TestMemory.LiveTensors(); }
            }
            after10k = TestMemory.SettledResidentBytes();
            tensorsAfter10k = TestMemory.LiveTensors();
        }
        Assert.AreEqual(tensorsAfter2k, tensorsAfter10k, "every batch's tensors are disposed");
        Assert.AreEqual(10_000, rows);
        double growthMb = (after10k - after2k) / 1e6;
        Console.WriteLine($"resident memory after 2,000 rows {after2k / 1e6:F0} MB, after 10,000 rows {after10k / 1e6:F0} MB, growth {growthMb:F1} MB");
        Assert.IsTrue(growthMb < 40, $"memory grew by {growthMb:F1} MB over 8,000 rows");
    }

}
