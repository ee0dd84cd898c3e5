using System.Text;

namespace MLNet.Bayesian.Cli;

/// <summary>The CSV quoting the tool's files share (predictions, their parts, review decisions): RFC 4180 quotes.</summary>
internal static class CsvFields
{
    /// <summary>The fields of one line; a quoted field may hold commas and doubled quotes.</summary>
    public static List<string> Split(string line)
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

    /// <summary>A value as one field: quoted when it holds a comma, a quote or a line break.</summary>
    public static string Quote(string value)
        => value.IndexOfAny(new[] { ',', '"', '\n', '\r' }) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;

    /// <summary>
    /// Appends whole lines in one write and flushes them to the disk before returning, so that what the caller reports
    /// as saved survives a kill or a power cut.
    /// </summary>
    public static void AppendLines(FileStream stream, IEnumerable<string> lines)
    {
        var text = new StringBuilder();
        foreach (string line in lines) text.Append(line).Append('\n');
        stream.Write(new UTF8Encoding(false).GetBytes(text.ToString()));
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Cuts the file back to its last newline and returns the bytes removed: what a process killed in the middle of a
    /// write leaves behind, so that every line the file keeps is whole.
    /// </summary>
    public static long CutTornLine(FileStream stream)
    {
        long length = stream.Length, end = length;
        var one = new byte[1];
        while (end > 0)
        {
            stream.Position = end - 1;
            stream.ReadExactly(one);
            if (one[0] == '\n') break;
            end--;
        }
        if (end < length) stream.SetLength(end);
        return length - end;
    }
}
