using System.Runtime.InteropServices;
using System.Text;

namespace MlpKit.Checkpoints;

/// <summary>
/// Writes a file so that readers see either the old content or the complete new content, never a torn
/// file: the bytes go to a temporary file in the target's own folder (a rename is only atomic within one
/// file system), are flushed to the disk, and the temporary file is then renamed over the target.
/// A crash or an exception mid-write leaves the target untouched.
/// </summary>
public static partial class AtomicFile
{
    public static void WriteAllBytes(string path, byte[] bytes) => Write(path, stream => stream.Write(bytes));

    public static void WriteAllText(string path, string text) =>
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));

    /// <summary>Runs <paramref name="write"/> on a stream over the temporary file, then commits it.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        var temp = BeginTemp(path, out var stream);
        try
        {
            using (stream)
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            Commit(temp, path);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is IOException or UnauthorizedAccessException)
                throw new MlpKitException($"{path}: cannot write: {e.Message}", e);
            throw;
        }
    }

    static string BeginTemp(string path, out FileStream stream)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            var full = Path.GetFullPath(path);
            var dir = Path.GetDirectoryName(full)!;
            Directory.CreateDirectory(dir);
            RemoveStaleTemps(dir, Path.GetFileName(full));
            // A dot-prefixed name keeps the half-written file out of globbing tools and listings; the writer's process
            // id in it lets a later write tell a killed writer's leftover from a write still under way.
            var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}-{Guid.NewGuid():N}.tmp");
            stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
            return temp;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new MlpKitException($"{path}: cannot write: {e.Message}", e);
        }
    }

    // File.Move with overwrite is rename(2) on Unix and MoveFileEx(REPLACE_EXISTING) on Windows: both
    // replace the target in one step.
    static void Commit(string temp, string path)
    {
        var full = Path.GetFullPath(path);
        File.Move(temp, full, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(full)!);
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>
    /// On Unix the rename itself lives in the folder's entry list; syncing the folder makes it survive a
    /// power loss, not just a crash. Best effort: a failure here cannot undo the already complete write.
    /// </summary>
    static void SyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        try
        {
            var fd = Open(dir, 0 /* O_RDONLY */);
            if (fd < 0) return;
            FSync(fd);
            Close(fd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    /// <summary>Deletes temporaries of <paramref name="name"/> whose writing process is gone (killed mid-write).</summary>
    static void RemoveStaleTemps(string dir, string name)
    {
        var prefix = $".{name}.";
        foreach (var temp in Directory.EnumerateFiles(dir, $".{name}.*.tmp"))
        {
            var middle = Path.GetFileName(temp)[prefix.Length..^".tmp".Length];
            var dash = middle.IndexOf('-');
            // Temporaries of the older naming (no process id) cannot belong to a live writer of this version.
            if (dash > 0 && int.TryParse(middle[..dash], out var pid) && ProcessAlive(pid)) continue;
            if (middle.Contains('.')) continue;   // another file's temporary whose name starts with ours
            TryDelete(temp);
        }
    }

    static bool ProcessAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static void TryDelete(string temp)
    {
        try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
