namespace MLNet.Bayesian.Tests.Cli;

/// <summary>
/// What the review tests open: Fashion-MNIST test images and digits the model never saw, scored once with the CLI's
/// model and its stored rule, so that the queue holds clothing the rule found uncertain and unfamiliar digits.
/// <c>MLNET_BAYESIAN_REVIEW_DATA</c> names a folder with a model.zip, a predictions.csv and the incoming/ images it
/// scored instead (the closing note's 100-item timing ran the browser test on the colour photos that way).
/// </summary>
internal static class ReviewData
{
    static readonly Lazy<(string Model, string Csv, string Images)> Scored = new(Score, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Model => Scored.Value.Model;
    public static string Images => Scored.Value.Images;

    /// <summary>A fresh copy of the predictions CSV in a folder of its own: each test gets its own decisions file.</summary>
    public static string FreshCsv()
    {
        string folder = TestData.TempFolder();
        string csv = Path.Combine(folder, "predictions.csv");
        File.Copy(Scored.Value.Csv, csv);
        return csv;
    }

    /// <summary>The classes of the model, in key order.</summary>
    public static IReadOnlyList<string> Classes => MLNet.Bayesian.Persistence.BayesianModel.Inspect(Model).Labels;

    static (string, string, string) Score()
    {
        if (Environment.GetEnvironmentVariable("MLNET_BAYESIAN_REVIEW_DATA") is { Length: > 0 } given)
            return (Path.Combine(given, "model.zip"), Path.Combine(given, "predictions.csv"), Path.Combine(given, "incoming"));
        string images = Path.Combine(CliTool.Root, "review-images");
        if (!Directory.Exists(images))
        {
            string fashion = CliTool.Incoming("review-fashion", 3);
            CopyTree(fashion, Path.Combine(images, "fashion"));
            CopyTree(Path.Combine(CliTool.Root, "ood"), Path.Combine(images, "digits"));
        }
        string csv = Path.Combine(CliTool.Root, "review-predictions.csv");
        var (code, output) = CliTool.Run("score", "--model", CliTool.Model, "--images", images, "--out", csv);
        Assert.AreEqual(0, code, output);
        return (CliTool.Model, csv, images);
    }

    /// <summary>Copies the files under <paramref name="from"/> to the same places under <paramref name="to"/>.</summary>
    public static void CopyTree(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
