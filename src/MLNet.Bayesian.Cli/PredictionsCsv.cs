using System.Globalization;
using System.Text;
using MLNet.Bayesian.Scoring;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Cli;

/// <summary>
/// The output file of <c>score</c>: a header, then one row per image (a prediction or an error, never both).
/// Rows are appended a batch at a time in one write, so a killed run leaves whole lines behind, except at worst a
/// torn last line; <see cref="Open"/> cuts such a line away, so that its image is scored again.
/// Columns: path, predicted_label, the uncertainty columns, needs_review, p_(class) per class, for a model with a
/// conformal calibration prediction_set (the classes of the set joined with '|', most probable first) and
/// prediction_set_size, then error. Beside it,
/// <c>&lt;file&gt;.model</c> holds the SHA-256 of the model zip that wrote it, so that a run resumed (or a part merged) with
/// another model of the same classes is refused instead of mixing two models' rows.
/// </summary>
internal sealed class PredictionsCsv : IDisposable
{
    readonly FileStream _stream;
    readonly string[] _classNames;
    readonly bool _sets;

    PredictionsCsv(FileStream stream, string[] classNames, bool sets, HashSet<string> done, int previousErrors, long cutBytes)
    {
        _stream = stream; _classNames = classNames; _sets = sets; Done = done; PreviousErrors = previousErrors; CutBytes = cutBytes;
    }

    /// <summary>Paths already in the file.</summary>
    public HashSet<string> Done { get; }
    /// <summary>How many of them are error rows.</summary>
    public int PreviousErrors { get; }
    /// <summary>Bytes of a torn last line that were cut away (0 when the file ended cleanly).</summary>
    public long CutBytes { get; }

    /// <summary>The header line for these classes.</summary>
    public static string Header(IEnumerable<string> classNames, bool sets = false)
        => string.Join(",", new[] { "path", "predicted_label" }.Concat(OutputColumns.Uncertainty.Select(c => c.CsvName)).Append("needs_review")
            .Concat(classNames.Select(c => CsvFields.Quote("p_" + c))).Concat(sets ? SetColumns : Array.Empty<string>()).Append("error"));

    /// <summary>The columns of a model with a conformal calibration.</summary>
    static readonly string[] SetColumns = { "prediction_set", "prediction_set_size" };

    /// <summary>
    /// Opens <paramref name="path"/> for appending: a new file gets the header; an existing one is repaired (a torn last
    /// line is cut away) and its rows are read, after checking that its header matches these classes.
    /// </summary>
    public static PredictionsCsv Open(string path, string[] classNames, string modelDigest, bool sets = false)
    {
        string header = Header(classNames, sets);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
        string? earlier = ModelOf(path);
        if (earlier is not null && earlier != modelDigest && File.Exists(path) && new FileInfo(path).Length > 0)
            throw new InvalidDataException($"'{path}' was written with another model (SHA-256 {earlier[..12]}..., this one {modelDigest[..12]}...): " +
                "give another --out file, or delete it (and its .model file) to score everything again with this model.");
        AtomicFile.WriteAllText(ModelFile(path), modelDigest + "\n");
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 1);
        try
        {
            long cut = CsvFields.CutTornLine(stream);
            var done = new HashSet<string>(StringComparer.Ordinal);
            int errors = 0;
            stream.Position = 0;
            using (var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true))
            {
                string? first = reader.ReadLine();
                if (first is not null && first != header)
                    throw new InvalidDataException($"'{path}' holds other columns than this model writes (its first line is not the header for the classes " +
                        $"{string.Join(", ", classNames)}); give another --out file.");
                for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
                {
                    var fields = CsvFields.Split(line);
                    if (fields.Count == 0 || fields[0].Length == 0) continue;
                    done.Add(fields[0]);
                    if (fields[^1].Length > 0) errors++;
                }
            }
            stream.Seek(0, SeekOrigin.End);
            var csv = new PredictionsCsv(stream, classNames, sets, done, errors, cut);
            if (stream.Length == 0) csv.Append(new[] { header });
            return csv;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The file beside a predictions CSV that names the model that wrote it.</summary>
    public static string ModelFile(string csv) => csv + ".model";

    /// <summary>The SHA-256 (hex) of the model that wrote <paramref name="csv"/>, or null when that is not recorded.</summary>
    public static string? ModelOf(string csv)
        => File.Exists(ModelFile(csv)) ? File.ReadAllText(ModelFile(csv)).Trim() is { Length: > 0 } d ? d : null : null;

    /// <summary>The SHA-256 (hex) of a model zip, as <see cref="ModelOf"/> records it.</summary>
    public static string Digest(string modelZip)
    {
        using var stream = File.OpenRead(modelZip);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream)).ToLowerInvariant();
    }

    /// <summary>Appends whole lines in one write and flushes them to the file.</summary>
    public void Append(IEnumerable<string> lines) => CsvFields.AppendLines(_stream, lines);

    /// <summary>The row of a scored image.</summary>
    public string Row(string path, ScoredImage p, bool? needsReview)
        => string.Join(",", new[] { CsvFields.Quote(path), CsvFields.Quote(_classNames[p.PredictedLabel - 1]) }
            .Concat(OutputColumns.Uncertainty.Select(c => R(p.Scores[c.Uncertainty!.Value])))
            .Append(needsReview switch { true => "true", false => "false", null => "" })
            .Concat(p.Probabilities.Select(R)).Concat(_sets ? SetFields(p) : Array.Empty<string>()).Append(""));

    /// <summary>prediction_set and prediction_set_size of a row: the set's classes, most probable first.</summary>
    string[] SetFields(ScoredImage p)
    {
        var set = p.PredictionSet ?? throw new InvalidOperationException("The model has prediction sets but the row was read without them.");
        var classes = Enumerable.Range(0, set.Length).Where(c => set[c])
            .OrderByDescending(c => p.Probabilities[c]).ThenBy(c => c).Select(c => _classNames[c]);
        return new[] { CsvFields.Quote(string.Join("|", classes)), R(p.PredictionSetSize) };
    }

    /// <summary>The row of an image that could not be scored: every value empty, the reason in the last column.</summary>
    public string ErrorRow(string path, string error)
        => string.Join(",", new[] { CsvFields.Quote(path), "" }.Concat(OutputColumns.Uncertainty.Select(_ => "")).Append("")
            .Concat(_classNames.Select(_ => "")).Concat(_sets ? SetColumns.Select(_ => "") : Array.Empty<string>()).Append(CsvFields.Quote(error.ReplaceLineEndings(" "))));


    static string R(float v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
