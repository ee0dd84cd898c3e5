using System.Globalization;

namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// The loop's second half, <c>train --reviewed</c>: what a person decided on the review page goes back into training.
/// Labelled images join the training data with the person's label (the last decision per image wins), images marked
/// unknown stay out and measure the new rule, and the report compares the old model and the new one on them. A decision
/// it cannot use stops the run before training, naming the file and the image.
/// </summary>
[TestClass]
public sealed class ReviewedTrainingTests
{
    const string Header = "path,image,decision,label,predicted_label,flagged,reviewer,decided_at";

    [TestMethod]
    public void LabelledImagesJoinTheTrainingDataAndUnknownOnesMeasureTheRule()
    {
        var rows = Rows();
        var fashion = rows.Where(r => r.Path.StartsWith("fashion/", StringComparison.Ordinal)).Take(4).ToList();
        var digits = rows.Where(r => r.Path.StartsWith("digits/", StringComparison.Ordinal)).Take(3).ToList();
        Assert.AreEqual((4, 3), (fashion.Count, digits.Count));
        var lines = new List<string> { Header };
        // First marked unknown by mistake, then relabelled: the later decision is the one that counts.
        lines.Add(Line(fashion[0], "unknown", "", "2026-12-01T10:00:00.000Z"));
        foreach (var r in fashion) lines.Add(Line(r, r.TrueClass == r.Predicted ? "accept" : "relabel", r.TrueClass, "2026-12-01T10:05:00.000Z"));
        foreach (var r in digits) lines.Add(Line(r, "unknown", "", "2026-12-01T10:06:00.000Z"));
        string decisions = Path.Combine(TestData.TempFolder(), "predictions.decisions.csv");
        File.WriteAllLines(decisions, lines);
        string zip = Path.Combine(Path.GetDirectoryName(decisions)!, "retrained.zip");

        var (code, output) = CliTool.Run("train", "--data", Path.Combine(CliTool.Root, "train"), "--reviewed", decisions, "--out", zip,
            "--epochs", "1,1,1", "--samples", "4", "--kl-weight", "0.1");
        Assert.AreEqual(0, code, output);
        StringAssert.Contains(output, "reviewed: 4 images a person labelled join the training data; 3 marked unknown stay out of it");
        int trainImages = Directory.GetFiles(Path.Combine(CliTool.Root, "train"), "*.png", SearchOption.AllDirectories).Length;
        StringAssert.Contains(output, $"training on {trainImages + 4} images", "the training folder and the labelled images, not the unknown ones");

        // The old model's figures come from the decisions: its predicted label against the person's, its flag.
        string Share(double v) => v.ToString("P1", CultureInfo.InvariantCulture);
        double accuracyBefore = fashion.Count(r => r.Predicted == r.TrueClass) / 4.0, flaggedBefore = digits.Count(r => r.Flagged) / 3.0;
        string accuracyRow = Row(output, "reviewed images (4): accuracy, old model -> new");
        StringAssert.Contains(accuracyRow, "│ " + Share(accuracyBefore) + " -> ", output);
        string unknownRow = Row(output, "unknown images (3): flagged by the review rule, old -> new");
        StringAssert.Contains(unknownRow, "│ " + Share(flaggedBefore) + " -> ", output);
        // The new figures are measured by the saved model: shares of 4 and of 3 images.
        double accuracyAfter = After(accuracyRow), flaggedAfter = After(unknownRow);
        Assert.IsTrue(Enumerable.Range(0, 5).Any(k => Math.Abs(accuracyAfter - k / 4.0) < 1e-3), accuracyRow);
        Assert.IsTrue(Enumerable.Range(0, 4).Any(k => Math.Abs(flaggedAfter - k / 3.0) < 1e-3), unknownRow);
        Assert.IsTrue(File.Exists(zip));
    }

    [TestMethod]
    public void ADecisionItCannotUseStopsTheRunAndNamesTheImage()
    {
        var row = Rows().First(r => r.Path.StartsWith("fashion/", StringComparison.Ordinal));
        string folder = TestData.TempFolder();
        string Attempt(string name, params string[] decisionLines)
        {
            string file = Path.Combine(folder, name);
            File.WriteAllLines(file, decisionLines);
            string zip = Path.Combine(folder, name + ".zip");
            var (code, output) = CliTool.Run("train", "--data", Path.Combine(CliTool.Root, "train"), "--reviewed", file, "--out", zip, "--epochs", "1,1,1");
            Assert.AreNotEqual(0, code, output);
            Assert.IsFalse(File.Exists(zip), "no model from part of what the person decided");
            StringAssert.Contains(output, name, "the error names the decisions file");
            return output;
        }

        StringAssert.Contains(Attempt("label.csv", Header, Line(row, "relabel", "Spaceship", "2026-12-01T10:00:00.000Z")), "labelled 'Spaceship', which is not a class of --data");
        StringAssert.Contains(Attempt("gone.csv", Header, Line(row with { Image = Path.Combine(folder, "moved-away.png") }, "accept", row.TrueClass, "2026-12-01T10:00:00.000Z")),
            "is no longer at");
        StringAssert.Contains(Attempt("other.csv", "path,label", "a.png,Coat"), "is not a decisions file");
        StringAssert.Contains(Attempt("torn.csv", Header, "fashion/x.png,/x.png,accept"), "line 2: not a decision");
    }

    sealed record ScoredRow(string Path, string Image, string Predicted, bool Flagged)
    {
        /// <summary>The class of the folder the image was written to (fashion/&lt;class&gt;/...).</summary>
        public string TrueClass => Path.Split('/')[1];
    }

    static List<ScoredRow> Rows()
    {
        var lines = File.ReadAllLines(ReviewData.FreshCsv());
        var header = CliTool.Fields(lines[0]);
        int path = header.IndexOf("path"), predicted = header.IndexOf("predicted_label"), flagged = header.IndexOf("needs_review");
        return lines.Skip(1).Select(CliTool.Fields)
            .Select(f => new ScoredRow(f[path], System.IO.Path.Combine(ReviewData.Images, f[path]), f[predicted], f[flagged] == "true")).ToList();
    }

    static string Line(ScoredRow r, string decision, string label, string at)
        => string.Join(",", new[] { r.Path, r.Image, decision, label, r.Predicted, r.Flagged ? "true" : "false", "tester", at }.Select(MLNet.Bayesian.Cli.CsvFields.Quote));

    static string Row(string output, string starts)
        => output.Split('\n').SingleOrDefault(l => l.Contains(starts, StringComparison.Ordinal)) ?? throw new AssertFailedException($"no table row '{starts}' in:\n{output}");

    static double After(string row)
    {
        // │ measure │ old -> new │: the value cell's right side.
        string value = row.Split('│', '|')[2].Split(" -> ")[1].Trim().TrimEnd('%').Trim();
        return double.Parse(value, CultureInfo.InvariantCulture) / 100;
    }
}
