using System.Globalization;
using System.Text;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>What a person decided about an image.</summary>
internal enum ReviewVerdict
{
    /// <summary>The model's predicted class is right.</summary>
    Accept,
    /// <summary>Another of the model's classes is right.</summary>
    Relabel,
    /// <summary>None of the model's classes: an unfamiliar image (or one the person cannot tell).</summary>
    Unknown,
}

/// <summary>
/// One line of the decisions file. <see cref="Path"/> is the row's path in the predictions CSV (relative to the scored
/// folder), <see cref="Image"/> the absolute file that was shown, so that <c>train --reviewed</c> finds it from anywhere.
/// <see cref="Label"/> is the class the person gave (empty for <see cref="ReviewVerdict.Unknown"/>);
/// <see cref="PredictedLabel"/> and <see cref="Flagged"/> are what the model said, kept so that the retraining can report
/// the model's accuracy on the reviewed images before and after.
/// </summary>
internal sealed record ReviewDecision(string Path, string Image, ReviewVerdict Verdict, string Label, string PredictedLabel, bool Flagged,
    string Reviewer, DateTimeOffset DecidedAt);

/// <summary>
/// The decisions of a review, a plain CSV beside the predictions CSV (<c>predictions.decisions.csv</c>):
/// <c>path,image,decision,label,predicted_label,flagged,reviewer,decided_at</c>. Each decision is appended as one line and
/// flushed to the disk before the page is told it is saved, so a killed server or a closed browser loses nothing; a
/// later decision on the same path replaces an earlier one (the file keeps both, the last one counts). A torn last line,
/// left by a kill in the middle of a write, is cut away when the file is opened again.
/// </summary>
internal sealed class DecisionLog : IDisposable
{
    public const string Header = "path,image,decision,label,predicted_label,flagged,reviewer,decided_at";

    readonly FileStream _stream;
    readonly Dictionary<string, ReviewDecision> _latest;
    readonly object _gate = new();

    DecisionLog(string file, FileStream stream, Dictionary<string, ReviewDecision> latest, long cutBytes)
    {
        File = file; _stream = stream; _latest = latest; CutBytes = cutBytes;
    }

    /// <summary>The decisions file.</summary>
    public string File { get; }

    /// <summary>Bytes of a torn last line cut away on opening (0 when the file ended cleanly).</summary>
    public long CutBytes { get; }

    /// <summary>The decisions file of a predictions CSV: <c>predictions.csv</c> gives <c>predictions.decisions.csv</c>.</summary>
    public static string Beside(string predictionsCsv)
    {
        string full = System.IO.Path.GetFullPath(predictionsCsv);
        return System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, System.IO.Path.GetFileNameWithoutExtension(full) + ".decisions.csv");
    }

    /// <summary>Opens (or creates) <paramref name="file"/> for appending decisions, after reading the ones it holds.</summary>
    public static DecisionLog Open(string file)
    {
        var stream = new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 1);
        try
        {
            long cut = CsvFields.CutTornLine(stream);
            stream.Position = 0;
            var latest = ReadAll(stream, file);
            stream.Seek(0, SeekOrigin.End);
            var log = new DecisionLog(file, stream, latest, cut);
            if (stream.Length == 0) log.Write(Header);
            return log;
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The decisions in <paramref name="file"/>, the last one per path, in the order they were last made.</summary>
    public static IReadOnlyList<ReviewDecision> Read(string file)
    {
        if (!System.IO.File.Exists(file)) throw new FileNotFoundException($"--reviewed: the decisions file '{file}' does not exist (review writes it beside the predictions CSV).", file);
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return ReadAll(stream, file).Values.OrderBy(d => d.DecidedAt).ToList();
    }

    /// <summary>The last decision on <paramref name="path"/>, or null.</summary>
    public ReviewDecision? For(string path)
    {
        lock (_gate) return _latest.GetValueOrDefault(path);
    }

    /// <summary>The number of paths decided.</summary>
    public int Count
    {
        get { lock (_gate) return _latest.Count; }
    }

    /// <summary>Writes <paramref name="decision"/> to the disk, then counts it.</summary>
    public void Append(ReviewDecision decision)
    {
        string line = string.Join(",", CsvFields.Quote(decision.Path), CsvFields.Quote(decision.Image), Name(decision.Verdict), CsvFields.Quote(decision.Label),
            CsvFields.Quote(decision.PredictedLabel), decision.Flagged ? "true" : "false", CsvFields.Quote(decision.Reviewer),
            decision.DecidedAt.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
        lock (_gate)
        {
            Write(line);
            _latest.Remove(decision.Path);
            _latest[decision.Path] = decision;
        }
    }

    /// <summary>The file's name of a verdict.</summary>
    public static string Name(ReviewVerdict verdict) => verdict.ToString().ToLowerInvariant();

    /// <summary>A verdict from its name in the file or a request; null when it is none.</summary>
    public static ReviewVerdict? Parse(string? name) => name?.Trim().ToLowerInvariant() switch
    {
        "accept" => ReviewVerdict.Accept,
        "relabel" => ReviewVerdict.Relabel,
        "unknown" => ReviewVerdict.Unknown,
        _ => null,
    };

    void Write(string line) => CsvFields.AppendLines(_stream, new[] { line });

    static Dictionary<string, ReviewDecision> ReadAll(Stream stream, string file)
    {
        var latest = new Dictionary<string, ReviewDecision>(StringComparer.Ordinal);
        using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 16, leaveOpen: true);
        string? first = reader.ReadLine();
        if (first is null) return latest;
        if (first != Header)
            throw new InvalidDataException($"'{file}' is not a decisions file: its first line should be '{Header}'. Give another file, or move it away.");
        int lineNumber = 1;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var f = CsvFields.Split(line);
            if (f.Count != 8 || Parse(f[2]) is not ReviewVerdict verdict
                || !DateTimeOffset.TryParse(f[7], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
                throw new InvalidDataException($"'{file}', line {lineNumber}: not a decision ({Header}): {line}");
            latest.Remove(f[0]);
            latest[f[0]] = new ReviewDecision(f[0], f[1], verdict, f[3], f[4], f[5] == "true", f[6], at);
        }
        return latest;
    }

    /// <inheritdoc />
    public void Dispose() => _stream.Dispose();
}
