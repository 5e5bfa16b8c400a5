namespace MlpKit.Checkpoints;

/// <summary>
/// Writes a whole output folder so that it appears complete or not at all: the files go into a hidden staging
/// sibling (same file system, so the final rename is atomic), and the staging folder is renamed into place at
/// the end. An existing folder is moved aside first and deleted after the rename. Staging folders left by a
/// killed run (`.NAME.staging-*`) are removed by the next write to the same target.
/// </summary>
public static class AtomicDirectory
{
    public static void Write(string dir, Action<string> writeInto)
    {
        ArgumentException.ThrowIfNullOrEmpty(dir);
        var full = Path.GetFullPath(dir.TrimEnd('/', '\\'));
        var parent = Path.GetDirectoryName(full) ?? throw new MlpKitException($"{dir}: cannot write a folder at the file-system root");
        var name = Path.GetFileName(full);
        if (File.Exists(full)) throw new MlpKitException($"{dir}: exists and is a file, not a folder");
        var token = Guid.NewGuid().ToString("N")[..8];
        var staging = Path.Combine(parent, $".{name}.staging-{token}");
        try
        {
            Directory.CreateDirectory(parent);
            RemoveLeftovers(parent, name);
            Directory.CreateDirectory(staging);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MlpKitException($"{dir}: cannot write: {e.Message}", e);
        }
        try
        {
            writeInto(staging);
            string? aside = null;
            if (Directory.Exists(full))
            {
                aside = Path.Combine(parent, $".{name}.old-{token}");
                Directory.Move(full, aside);
            }
            Directory.Move(staging, full);
            if (aside is not null) TryDelete(aside);
        }
        catch (Exception e)
        {
            TryDelete(staging);
            if (e is IOException or UnauthorizedAccessException)
                throw new MlpKitException($"{dir}: cannot write: {e.Message}", e);
            throw;
        }
    }

    static void RemoveLeftovers(string parent, string name)
    {
        foreach (var pattern in new[] { $".{name}.staging-*", $".{name}.old-*" })
            foreach (var old in Directory.EnumerateDirectories(parent, pattern))
                TryDelete(old);
    }

    static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
