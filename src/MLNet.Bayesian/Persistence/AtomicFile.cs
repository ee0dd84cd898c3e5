namespace MLNet.Bayesian.Persistence;

/// <summary>
/// Writes a file whole or not at all: into a temporary file beside it (same folder, so same file system), flushed to
/// the disk, then renamed over the target, which a rename replaces in one step. A save that fails or is killed half way
/// leaves the earlier file as it was and, at worst, a hidden ".name.*.tmp" beside it, never a torn target: a model zip
/// trained for hours is not lost to a failed export. Files that grow by appending (the score command's CSV) are not
/// written this way; they cut a torn last line away when they are opened instead.
/// </summary>
internal static class AtomicFile
{
    /// <summary>
    /// Calls <paramref name="writeTemporary"/> with the path of a temporary file to write, then renames it over
    /// <paramref name="path"/>. When it throws, the temporary file is removed and the exception goes on.
    /// </summary>
    public static void Write(string path, Action<string> writeTemporary)
    {
        string target = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(folder);
        string temporary = Path.Combine(folder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTemporary(temporary);
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite)) stream.Flush(flushToDisk: true);
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            if (File.Exists(temporary)) File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8) whole or not at all.</summary>
    public static void WriteAllText(string path, string text) => Write(path, t => File.WriteAllText(t, text));

    /// <summary>Writes <paramref name="bytes"/> whole or not at all.</summary>
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, t => File.WriteAllBytes(t, bytes));

    /// <summary>Writes <paramref name="lines"/> whole or not at all.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines) => Write(path, t => File.WriteAllLines(t, lines));
}
