using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Release;

/// <summary>Release tarballs built in memory (any member name, even hostile ones), with their sha256.</summary>
internal static class ArtifactFixture
{
    public static byte[] Tarball(params (string Name, string Content)[] files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, name)
                {
                    Mode = name.EndsWith("odoo-bin", StringComparison.Ordinal)
                        ? UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                        : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                };
                tar.WriteEntry(entry);
            }
        }

        return buffer.ToArray();
    }

    public static ReleaseArtifactRef Describe(string name, byte[] bytes) =>
        new($"/releases/{name}", Convert.ToHexStringLower(SHA256.HashData(bytes)), bytes.Length);
}
