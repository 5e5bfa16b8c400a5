namespace MlpKit.Checkpoints;

/// <summary>
/// Checks, before any work, that an output can be written where the user asked: a folder is not an existing file, a
/// file is not an existing folder, and the nearest existing parent is a folder this process can create files in
/// (probed with a file created and removed at once). A run that would fail only when it saves fails in a second.
/// </summary>
public static class OutputPath
{
    /// <summary>The problem with writing a folder at <paramref name="dir"/>, or null when it can be written.</summary>
    public static string? FolderProblem(string dir) => Problem(dir, folder: true);

    /// <summary>The problem with writing a file at <paramref name="file"/>, or null when it can be written.</summary>
    public static string? FileProblem(string file) => Problem(file, folder: false);

    static string? Problem(string path, bool folder)
    {
        if (string.IsNullOrWhiteSpace(path)) return "is empty";
        string full;
        try { full = Path.GetFullPath(path); }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException) { return $"is not a valid path ({e.Message})"; }
        if (folder && File.Exists(full)) return "exists and is a file, not a folder";
        if (!folder && Directory.Exists(full)) return "exists and is a folder, not a file";
        var parent = Path.GetDirectoryName(full.TrimEnd(Path.DirectorySeparatorChar));
        while (parent is not null && !Directory.Exists(parent))
        {
            if (File.Exists(parent)) return $"{parent} is a file, not a folder";
            parent = Path.GetDirectoryName(parent);
        }
        if (parent is null) return "has no existing parent folder";
        var probe = Path.Combine(parent, $".mlpkit-write-probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot write into {parent} ({e.Message})";
        }
    }
}
