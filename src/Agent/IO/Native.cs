using System.Runtime.InteropServices;

namespace OdooFleet.Agent.IO;

/// <summary>
/// The few POSIX calls .NET does not expose with the guarantees we need: rename(2) over an
/// existing symlink or file, and fsync of a directory so a rename survives a power cut.
/// </summary>
internal static partial class Native
{
    private const int ReadOnly = 0;

    /// <summary>rename(2): atomic replacement of <paramref name="newPath"/>, also when it is a symlink.</summary>
    public static void Rename(string oldPath, string newPath)
    {
        if (RenameNative(oldPath, newPath) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"rename '{oldPath}' -> '{newPath}' failed: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Flushes a directory's entries (the result of a rename) to disk; best effort.</summary>
    public static void FsyncDirectory(string directory)
    {
        var fd = Open(directory, ReadOnly);
        if (fd < 0)
        {
            return;
        }

        try
        {
            _ = Fsync(fd);
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "rename", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameNative(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
