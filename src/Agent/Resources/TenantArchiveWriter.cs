using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Writes a tenant archive into a directory: pg_dump -Fc of the database as database.dump, a tar of
/// the filestore as filestore.tar, then manifest.json (size and sha256 of each), all fsynced. The
/// manifest is written last, so an archive with a manifest is complete. Deletions and moves both
/// archive this way.
/// </summary>
internal static class TenantArchiveWriter
{
    public const string DumpFile = "database.dump";
    public const string FilestoreFile = "filestore.tar";
    public const string ManifestFile = "manifest.json";

    /// <param name="database">The database to dump, or null when there is none.</param>
    /// <param name="filestore">The filestore's full path, or null when there is none.</param>
    /// <param name="purpose">Names the archive in errors ("final backup", "move export").</param>
    public static async Task<TenantArchiveManifest> WriteAsync(
        ICommandRunner runner, Psql psql, string tenant, string databaseName, string? database, string? filestore, string filestoreSpecPath,
        string directory, DateTimeOffset at, TimeSpan timeout, string purpose, CancellationToken ct)
    {
        var files = new List<TenantArchiveFile>();
        if (database is not null)
        {
            var dump = Path.Combine(directory, DumpFile);
            var command = new CommandSpec("pg_dump", ["-Fc", "-p", psql.Cluster.Port.ToString(CultureInfo.InvariantCulture), $"--dbname={database}"])
            {
                Timeout = timeout,
                WorkingDirectory = "/",
                StandardOutputPath = dump,
            }.AsUser(Psql.OsUser);
            var result = await runner.RunAsync(command, ct);
            if (!result.Succeeded)
            {
                throw new ResourceFailedException($"{purpose} of database {database} failed, nothing was removed: {result.Describe(command)}");
            }

            files.Add(await SealAsync(dump, ct));
        }

        if (filestore is not null)
        {
            var tar = Path.Combine(directory, FilestoreFile);
            var command = new CommandSpec("tar", ["-cf", tar, "-C", Path.GetDirectoryName(filestore)!, "--", Path.GetFileName(filestore)])
            {
                Timeout = timeout,
            };
            var result = await runner.RunAsync(command, ct);
            if (!result.Succeeded)
            {
                throw new ResourceFailedException($"{purpose} of filestore {filestoreSpecPath} failed, nothing was removed: {result.Describe(command)}");
            }

            files.Add(await SealAsync(tar, ct));
        }

        var manifest = new TenantArchiveManifest(
            tenant, databaseName, at, files,
            $"pg_restore --create -d postgres {DumpFile}; tar -xf {FilestoreFile} -C {Path.GetDirectoryName(filestoreSpecPath)}");
        await AtomicFile.WriteAsync(
            Path.Combine(directory, ManifestFile), JsonSerializer.SerializeToUtf8Bytes(manifest, TenantArchiveJsonContext.Default.TenantArchiveManifest), FileModes.Mode0600, ct);
        Native.FsyncDirectory(directory);
        return manifest;
    }

    /// <summary>The manifest of an archive directory, each file checked against its size and sha256; throws when anything differs.</summary>
    public static async Task<TenantArchiveManifest> VerifyAsync(string directory, CancellationToken ct)
    {
        var manifest = await ReadManifestAsync(directory, ct);
        foreach (var file in manifest.Files)
        {
            var sealedFile = await HashAsync(Path.Combine(directory, file.Name), ct);
            if (sealedFile.Bytes != file.Bytes || sealedFile.Sha256 != file.Sha256)
            {
                throw new ResourceFailedException($"{file.Name} of the archive has {sealedFile.Bytes} bytes with sha256 {sealedFile.Sha256}, its manifest says {file.Bytes} bytes with {file.Sha256}");
            }
        }

        return manifest;
    }

    /// <summary>The manifest of an archive directory, its file names checked (the files themselves are not read).</summary>
    public static async Task<TenantArchiveManifest> ReadManifestAsync(string directory, CancellationToken ct)
    {
        TenantArchiveManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(
                await File.ReadAllBytesAsync(Path.Combine(directory, ManifestFile), ct), TenantArchiveJsonContext.Default.TenantArchiveManifest);
        }
        catch (JsonException e)
        {
            throw new ResourceFailedException($"{ManifestFile} of the archive is not a manifest: {e.Message}");
        }

        if (manifest?.Files is null || manifest.Tenant is null || manifest.Database is null)
        {
            throw new ResourceFailedException($"{ManifestFile} of the archive lacks its tenant, database or files");
        }

        if (manifest.Files.Any(f => f.Name is not (DumpFile or FilestoreFile)) || manifest.Files.Select(f => f.Name).Distinct().Count() != manifest.Files.Count)
        {
            throw new ResourceFailedException($"{ManifestFile} of the archive may list only {DumpFile} and {FilestoreFile}, each once");
        }

        return manifest;
    }

    /// <summary>fsync(2) the file and hash it as it is on disk.</summary>
    private static async Task<TenantArchiveFile> SealAsync(string path, CancellationToken ct)
    {
        await using (var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
        {
            stream.Flush(flushToDisk: true);
        }

        return await HashAsync(path, ct);
    }

    public static async Task<TenantArchiveFile> HashAsync(string path, CancellationToken ct)
    {
        await using var stream = File.OpenRead(path);
        var hash = await SHA256.HashDataAsync(stream, ct);
        return new TenantArchiveFile(Path.GetFileName(path), stream.Length, Convert.ToHexStringLower(hash));
    }
}
