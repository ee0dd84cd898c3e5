using System.ComponentModel;
using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.MLNetIntegration;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MLNet.Bayesian.Cli.Commands;

/// <summary>
/// Batch scoring: one CSV row per image file below the folder, an error row for a file that cannot be read,
/// resumption of an interrupted run (rows already in the CSV are skipped), exit code 1 when any row failed.
/// </summary>
internal sealed class ScoreCommand : Command<ScoreCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <ZIP>"), Description("Model zip written by 'train' (or by mlContext.Model.Save of an image pipeline).")]
        public string Model { get; set; } = "";

        [CommandOption("--images <FOLDER>"), Description("Folder of images to score (searched recursively).")]
        public string Images { get; set; } = "";

        [CommandOption("--out <CSV>"), Description("Output CSV; an existing file is resumed.")]
        public string Out { get; set; } = "predictions.csv";

        [CommandOption("--threshold <T>"), Description("Flag needs_review when the review column exceeds T (default: the rule stored at training time).")]
        public double? Threshold { get; set; }

        [CommandOption("--batch <N>"), DefaultValue(256)]
        public int Batch { get; set; } = 256;

        public override ValidationResult Validate()
        {
            if (!File.Exists(Model)) return ValidationResult.Error($"--model: file '{Model}' does not exist.");
            if (!Directory.Exists(Images)) return ValidationResult.Error($"--images: folder '{Images}' does not exist.");
            return Batch < 1 ? ValidationResult.Error("--batch must be at least 1.") : ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        var ml = new MLContext(seed: 1);
        var model = BayesianModel.Load(ml, settings.Model, out var inputSchema);
        var stored = ReviewSettings.Read(settings.Model);
        string reviewColumn = stored?.Column ?? BayesianColumnNames.MutualInformation;
        double? threshold = settings.Threshold ?? stored?.Threshold;
        if (threshold is null) AnsiConsole.MarkupLine("[yellow]no review threshold given or stored: needs_review is left empty[/]");

        string root = Path.GetFullPath(settings.Images);
        var files = ImageFolder.ListImageFiles(root);
        var done = ReadDone(settings.Out, out bool hasHeader, out int previousErrors);
        var pending = files.Where(f => !done.Contains(Path.GetRelativePath(root, f))).ToList();
        AnsiConsole.MarkupLine($"{files.Count} images, {done.Count} already in {Markup.Escape(settings.Out)}, {pending.Count} to score");

        string[] classNames = KeyNames(model.GetOutputSchema(inputSchema)[BayesianColumnNames.PredictedLabel]);
        int errors = 0, scored = 0;
        using var writer = new StreamWriter(settings.Out, append: true, new UTF8Encoding(false));
        if (!hasHeader) writer.WriteLine(Header(classNames));
        for (int start = 0; start < pending.Count; start += settings.Batch)
        {
            cancellation.ThrowIfCancellationRequested();
            var batch = pending.Skip(start).Take(settings.Batch).ToList();
            var readable = new List<string>();
            var rows = new Dictionary<string, string?>();
            foreach (string file in batch)
            {
                // Decode first: ML.NET would stop the whole batch at a bad file; here it becomes an error row.
                try { using var _ = MLImage.CreateFromFile(file); readable.Add(file); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or NullReferenceException)
                {
                    errors++;
                    rows[file] = ErrorRow(Path.GetRelativePath(root, file), $"cannot read image: {e.Message}", classNames);
                }
            }
            if (readable.Count > 0)
            {
                var data = ml.Data.LoadFromEnumerable(readable.Select(f => new ImageFolderEntry { ImagePath = f, Label = "" }));
                var output = model.Transform(data);
                int i = 0;
                foreach (var r in ml.Data.CreateEnumerable<Prediction>(output, reuseRowObject: false))
                {
                    string file = readable[i++];
                    float review = reviewColumn switch
                    {
                        BayesianColumnNames.PredictiveEntropy => r.PredictiveEntropy,
                        BayesianColumnNames.ExpectedEntropy => r.ExpectedEntropy,
                        _ => r.MutualInformation,
                    };
                    string flag = threshold is double t ? (review > t ? "true" : "false") : "";
                    rows[file] = string.Join(",", new[] { Csv(Path.GetRelativePath(root, file)), Csv(classNames[r.PredictedLabel - 1]), R(r.Confidence),
                        R(r.PredictiveEntropy), R(r.ExpectedEntropy), R(r.MutualInformation), flag }.Concat(r.Score.Select(R)).Append(""));
                    scored++;
                }
            }
            foreach (string file in batch)
                writer.WriteLine(rows[file] ?? ErrorRow(Path.GetRelativePath(root, file), "not scored", classNames));
            writer.Flush();
        }
        int totalErrors = errors + previousErrors;
        AnsiConsole.MarkupLine($"scored {scored}, errors {errors} in this run ({totalErrors} in the file) -> {Markup.Escape(settings.Out)}");
        return totalErrors > 0 ? 1 : 0;
    }

    static string Header(IEnumerable<string> classNames)
        => string.Join(",", new[] { "path", "predicted_label", "confidence", "predictive_entropy", "expected_entropy", "mutual_information", "needs_review" }
            .Concat(classNames.Select(c => Csv("p_" + c))).Append("error"));

    static string ErrorRow(string path, string error, string[] classNames)
        => string.Join(",", new[] { Csv(path), "", "", "", "", "", "" }.Concat(Enumerable.Repeat("", classNames.Length)).Append(Csv(error)));

    /// <summary>Paths already in an existing CSV, and how many of them are error rows.</summary>
    static HashSet<string> ReadDone(string csv, out bool hasHeader, out int errors)
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        hasHeader = false;
        errors = 0;
        if (!File.Exists(csv)) return done;
        foreach (string line in File.ReadLines(csv))
        {
            if (!hasHeader) { hasHeader = line.StartsWith("path,", StringComparison.Ordinal); if (hasHeader) continue; }
            var fields = SplitCsv(line);
            if (fields.Count == 0 || fields[0].Length == 0) continue;
            done.Add(fields[0]);
            if (fields[^1].Length > 0) errors++;
        }
        return done;
    }

    static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else current.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(current.ToString()); current.Clear(); }
            else current.Append(c);
        }
        fields.Add(current.ToString());
        return fields;
    }

    static string Csv(string value) => value.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
    static string R(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    static string[] KeyNames(DataViewSchema.Column column)
        => ImageSetDataView.KeyNames(column, (int)((KeyDataViewType)column.Type).Count).ToArray();

    sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
        public float[] Score { get; set; } = Array.Empty<float>();
        public float Confidence { get; set; }
        public float PredictiveEntropy { get; set; }
        public float ExpectedEntropy { get; set; }
        public float MutualInformation { get; set; }
    }
}
