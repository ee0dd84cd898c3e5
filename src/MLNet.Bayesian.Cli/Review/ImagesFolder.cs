namespace MLNet.Bayesian.Cli.Review;

/// <summary>
/// The folder whose images the review server may send: a CSV path is resolved under it (<see cref="Resolve"/>), and a file
/// is served only if it is still inside it once every symbolic link on the way is followed (<see cref="Holds"/>). The first
/// check stops "../" and absolute paths in the CSV; the second stops a link inside the folder that points elsewhere
/// (a folder of photos unpacked from an archive can hold one). Links that stay inside the folder are followed.
/// </summary>
internal sealed class ImagesFolder
{
    // Deeper than this is a loop of links (Linux's own limit on links followed in one lookup is 40).
    const int MaxLinks = 40;

    readonly string _root, _realRoot;

    public ImagesFolder(string root)
    {
        _root = WithSeparator(Path.GetFullPath(root));
        // Once, not per image sent: the folder itself (a link to a data disk, say) stays where it is while the server runs.
        _realRoot = WithSeparator(Real(_root) ?? throw new IOException($"--images '{root}': its path is a loop of symbolic links."));
    }

    /// <summary>The absolute path of a CSV path under the folder, or null when it leads outside it (by "..", or being absolute elsewhere).</summary>
    public string? Resolve(string csvPath)
    {
        string full = Path.GetFullPath(Path.Combine(_root, csvPath));
        return full.StartsWith(_root, StringComparison.Ordinal) ? full : null;
    }

    /// <summary>Whether <paramref name="file"/>, with every link on its path followed, is inside the folder (itself with its links followed).</summary>
    public bool Holds(string file) => Real(file) is { } real && real.StartsWith(_realRoot, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link in it followed, component by component; null for a loop of links.</summary>
    static string? Real(string path)
    {
        string full = Path.GetFullPath(path);
        for (int links = 0; links <= MaxLinks; links++)
        {
            string? followed = FollowFirstLink(full);
            if (followed is null) return Path.TrimEndingDirectorySeparator(full);
            full = followed;
        }
        return null;
    }

    // The path with its first linked component replaced by the link's target (a relative target is read from the link's
    // folder), or null when no component is a link. Components that do not exist are left as they are.
    static string? FollowFirstLink(string full)
    {
        string current = Path.GetPathRoot(full)!;
        string[] parts = full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(current, parts[i]);
            if (new FileInfo(next).LinkTarget is { } target)
                return Path.GetFullPath(Path.Combine(Path.Combine(current, target), Path.Combine(parts[(i + 1)..])));
            current = next;
        }
        return null;
    }

    static string WithSeparator(string path) => Path.TrimEndingDirectorySeparator(path) + Path.DirectorySeparatorChar;
}
