using System.Globalization;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>One score of a row against the review rule: its value, the value at which it alone sends a row to review,
/// its rank among the validation images (0..1; NaN for a rule without ranks) and whether it is past its threshold.</summary>
internal sealed record FlagReason(UncertaintyScore Score, float Value, double Threshold, double Rank, bool Past)
{
    /// <summary>Each score of <paramref name="rule"/> for a row whose scores <paramref name="value"/> gives: the page's rows and /predict's.</summary>
    public static FlagReason[] Of(ReviewRule rule, Func<UncertaintyScore, float> value)
        => rule.Cuts.Select(c => new FlagReason(c.Score, value(c.Score), c.Threshold, rule.HasRanks ? c.Rank(value(c.Score)) : double.NaN, c.Exceeded(value(c.Score)))).ToArray();
}

/// <summary>
/// One scored image of the predictions CSV. <see cref="Id"/> is its place in the file, the only thing the page's URLs
/// name (never a path). <see cref="Image"/> is null when the CSV's path leads outside the scored folder: such a row is
/// listed but its file is never served. <see cref="Uncertainty"/> orders the queue: the review rule's combined score,
/// else the first of its scores.
/// </summary>
internal sealed record ReviewItem(int Id, string Path, string? Image, string PredictedLabel, bool Flagged, float[] Probabilities,
    IReadOnlyDictionary<UncertaintyScore, float> Scores, string[]? PredictionSet, double Uncertainty, IReadOnlyList<FlagReason> Reasons);

/// <summary>
/// The rows of a predictions CSV (written by <c>score</c>) as the review page shows them, most uncertain first. Error rows
/// (no prediction) are left out and counted. The CSV's classes must be the model's.
/// </summary>
internal sealed class ReviewQueue
{
    ReviewQueue(IReadOnlyList<ReviewItem> inFileOrder, IReadOnlyList<string> classes, ImagesFolder folder, int errorRows, int outside)
    {
        _byId = inFileOrder.ToArray();
        // Most uncertain first; ids stay the places in the file, so a URL means the same image after a restart.
        Items = _byId.OrderByDescending(i => double.IsNaN(i.Uncertainty) ? double.PositiveInfinity : i.Uncertainty).ThenBy(i => i.Id).ToList();
        Classes = classes; Folder = folder; ErrorRows = errorRows; OutsideFolder = outside;
    }

    /// <summary>Every scored row, most uncertain first.</summary>
    public IReadOnlyList<ReviewItem> Items { get; }
    /// <summary>The model's classes, in key order.</summary>
    public IReadOnlyList<string> Classes { get; }
    /// <summary>The folder the CSV's paths are under: the only place images are served from.</summary>
    public ImagesFolder Folder { get; }
    /// <summary>Rows of the CSV that hold an error instead of a prediction.</summary>
    public int ErrorRows { get; }
    /// <summary>Rows whose path leads outside the images folder (listed, never served).</summary>
    public int OutsideFolder { get; }

    /// <summary>The item with place <paramref name="id"/>, or null.</summary>
    public ReviewItem? this[int id] => id >= 0 && id < _byId.Length ? _byId[id] : null;
    readonly ReviewItem[] _byId;

    /// <summary>Reads <paramref name="csv"/>; image paths are resolved under <paramref name="imagesRoot"/>.</summary>
    public static ReviewQueue Load(string csv, string imagesRoot, IReadOnlyList<string> classes, ReviewRule? rule)
    {
        if (!File.Exists(csv)) throw new FileNotFoundException($"--predictions: '{csv}' does not exist (score writes it).", csv);
        var folder = new ImagesFolder(imagesRoot);
        using var reader = new StreamReader(csv);
        var header = CsvFields.Split(reader.ReadLine() ?? throw new InvalidDataException($"--predictions: '{csv}' is empty."));
        int Column(string name) => header.IndexOf(name) is >= 0 and var i ? i
            : throw new InvalidDataException($"--predictions: '{csv}' has no column '{name}': it is not a CSV written by score.");
        int path = Column("path"), predicted = Column("predicted_label"), review = Column("needs_review"), error = Column("error");
        var scoreColumns = OutputColumns.Uncertainty.Select(c => (Score: c.Uncertainty!.Value, At: Column(c.CsvName))).ToArray();
        var csvClasses = header.Where(h => h.StartsWith("p_", StringComparison.Ordinal)).Select(h => h[2..]).ToList();
        if (!csvClasses.SequenceEqual(classes))
            throw new InvalidDataException($"--predictions: the classes of '{csv}' ({string.Join(", ", csvClasses)}) are not the model's ({string.Join(", ", classes)}): " +
                "give the model that scored it.");
        int firstProbability = header.IndexOf("p_" + classes[0]);
        int set = header.IndexOf("prediction_set");

        var items = new List<ReviewItem>();
        int errors = 0, outside = 0, lineNumber = 1;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var f = CsvFields.Split(line);
            if (f.Count != header.Count) throw new InvalidDataException($"--predictions: '{csv}', line {lineNumber} has {f.Count} fields, the header {header.Count}.");
            if (f[error].Length > 0) { errors++; continue; }
            var scores = scoreColumns.ToDictionary(s => s.Score, s => Number(f[s.At], csv, lineNumber));
            var probabilities = Enumerable.Range(0, classes.Count).Select(k => Number(f[firstProbability + k], csv, lineNumber)).ToArray();
            string? image = folder.Resolve(f[path]);
            if (image is null) outside++;
            var reasons = rule is null ? Array.Empty<FlagReason>() : FlagReason.Of(rule, s => scores[s]);
            double uncertainty = rule is { HasRanks: true } ? rule.CombinedUncertainty(s => scores[s])
                : rule is not null ? rule.Cuts[0].Score.Uncertainty(scores[rule.Cuts[0].Score])
                : scores[UncertaintyScore.PredictiveEntropy];
            string[]? members = set >= 0 ? f[set].Split('|', StringSplitOptions.RemoveEmptyEntries) : null;
            items.Add(new ReviewItem(items.Count, f[path], image, f[predicted], f[review] == "true", probabilities, scores, members, uncertainty, reasons));
        }
        return new ReviewQueue(items, classes.ToArray(), folder, errors, outside);
    }

    static float Number(string text, string csv, int line)
        => float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v
            : throw new InvalidDataException($"--predictions: '{csv}', line {line}: '{text}' is not a number.");
}
