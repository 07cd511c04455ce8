using System.Security.Cryptography;

namespace OdooFleet.Agent.IO;

/// <summary>
/// Writes a file so that readers see either the old or the new content, never a mix:
/// temp file in the same directory, fsync, optional validation and ownership on the temp file,
/// rename(2) over the target, fsync of the directory.
/// </summary>
internal static class AtomicFile
{
    public const string PreviousSuffix = ".previous";

    /// <summary>
    /// For files in drop-in directories whose reader loads every file it finds: logrotate reads
    /// "odoo.previous" as a second config (duplicate log entry, both skipped) and apt prints a notice
    /// for it on every run. Both skip names ending in "~" silently.
    /// </summary>
    public const string IgnoredPreviousSuffix = ".previous~";

    /// <summary>A random suffix for temp names, so two writers never share one.</summary>
    public static string RandomSuffix() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    public static async Task WriteAsync(
        string path,
        ReadOnlyMemory<byte> content,
        UnixFileMode mode,
        CancellationToken ct,
        Func<string, CancellationToken, Task>? prepareTemp = null,
        bool keepPrevious = false,
        string previousSuffix = PreviousSuffix)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))
            ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        var temp = Path.Combine(directory, $".{Path.GetFileName(path)}.tmp-{RandomSuffix()}");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = mode,
            };
            await using (var stream = new FileStream(temp, options))
            {
                await stream.WriteAsync(content, ct);
                stream.Flush(flushToDisk: true);
            }

            // The umask may have removed bits from UnixCreateMode; set the exact mode.
            File.SetUnixFileMode(temp, mode);
            if (prepareTemp is not null)
            {
                await prepareTemp(temp, ct);
            }

            if (keepPrevious && File.Exists(path))
            {
                await KeepPreviousAsync(path, previousSuffix, ct);
            }

            Native.Rename(temp, path);
            Native.FsyncDirectory(directory);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Copies the current version to "&lt;path&gt;&lt;suffix&gt;" (atomically, same mode) for rollback.</summary>
    private static async Task KeepPreviousAsync(string path, string suffix, CancellationToken ct)
    {
        var bytes = await File.ReadAllBytesAsync(path, ct);
        var mode = File.GetUnixFileMode(path);
        await WriteAsync(path + suffix, bytes, mode, ct);
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Leftover temp files are named .*.tmp-*; they never shadow a real file.
        }
        catch (UnauthorizedAccessException)
        {
            // Same as above.
        }
    }
}
