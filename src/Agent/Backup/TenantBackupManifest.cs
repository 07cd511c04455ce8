using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Backup;

/// <summary>The database dump of a backup: pg_dump -Fc -Z0 (uncompressed, so restic deduplicates it).</summary>
internal sealed record TenantBackupDump(string File, long Bytes, string Sha256);

/// <summary>The filestore of a backup as it was read: where it lives, and its files and bytes.</summary>
internal sealed record TenantBackupFilestore(string Path, bool Present, long Files, long Bytes);

/// <summary>
/// manifest.json of a tenant backup, in the same restic snapshot as the dump and the filestore:
/// what the backup is of (tenant, database and its owner, Odoo series and commit, installed module
/// versions), what it holds (dump size and sha256, filestore files and bytes) and how long it took.
/// </summary>
internal sealed record TenantBackupManifest(
    int Format,
    string Tenant,
    string Database,
    string DatabaseOwner,
    string DatabaseEncoding,
    string? OdooSeries,
    string? OdooCommit,
    IReadOnlyDictionary<string, string> Modules,
    TenantBackupDump Dump,
    TenantBackupFilestore Filestore,
    string StagingPath,
    DateTimeOffset StartedAt,
    double DumpSeconds,
    double FilestoreScanSeconds)
{
    public const int CurrentFormat = 1;
    public const string FileName = "manifest.json";
    public const string DumpFileName = "database.dump";

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, TenantBackupJsonContext.Default.TenantBackupManifest);

    /// <summary>Reads and validates a manifest (it comes from a repository: input like any other).</summary>
    public static TenantBackupManifest Parse(string json, string origin)
    {
        TenantBackupManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(json, TenantBackupJsonContext.Default.TenantBackupManifest);
        }
        catch (JsonException e)
        {
            throw new BackupFailedException($"{FileName} of {origin} is not a tenant backup manifest: {e.Message}");
        }

        var problems = new List<string>();
        if (manifest is null)
        {
            throw new BackupFailedException($"{FileName} of {origin} is empty (null)");
        }

        if (manifest.Format != CurrentFormat)
        {
            problems.Add($"format {manifest.Format} (this agent reads {CurrentFormat})");
        }

        if (manifest.Tenant is null || !Grammar.IsDatabaseName(manifest.Tenant) || manifest.Database is null || !Grammar.IsDatabaseName(manifest.Database))
        {
            problems.Add("a tenant or database that is not a database name");
        }

        if (manifest.DatabaseOwner is null || !Grammar.IsSqlIdentifier(manifest.DatabaseOwner) || manifest.DatabaseEncoding is null
            || !manifest.DatabaseEncoding.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
        {
            problems.Add("a database owner or encoding that is not an identifier");
        }

        if (manifest.Modules is null || manifest.Modules.Any(m => !Grammar.IsSqlIdentifier(m.Key) || m.Value is null || !Grammar.IsSingleLine(m.Value)))
        {
            problems.Add("a module list with a name that is not a module name");
        }

        if (manifest.Dump is null || manifest.Dump.File != DumpFileName || manifest.Dump.Bytes <= 0 || manifest.Dump.Sha256 is not { Length: 64 }
            || !manifest.Dump.Sha256.All(char.IsAsciiHexDigitLower))
        {
            problems.Add($"a dump entry that is not {DumpFileName} with a size and a sha256");
        }

        if (manifest.Filestore is null || manifest.Filestore.Path is null || !Grammar.IsSafeAbsolutePath(manifest.Filestore.Path)
            || manifest.Filestore.Files < 0 || manifest.Filestore.Bytes < 0)
        {
            problems.Add("a filestore entry without an absolute path or with negative counts");
        }

        if (manifest.StagingPath is null || !Grammar.IsSafeAbsolutePath(manifest.StagingPath))
        {
            problems.Add("a staging path that is not absolute");
        }

        return problems.Count == 0
            ? manifest
            : throw new BackupFailedException($"{FileName} of {origin} has {string.Join(", ", problems)}; it was not written by this agent or is damaged");
    }
}

/// <summary>Files and bytes under a directory, and sha256 of single files: what manifests record and restores check.</summary>
internal static class BackupFiles
{
    public static (long Files, long Bytes) Measure(string directory)
    {
        long files = 0, bytes = 0;
        foreach (var file in new DirectoryInfo(directory).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false }))
        {
            files++;
            bytes += file.Length;
        }

        return (files, bytes);
    }

    public static async Task<(long Bytes, string Sha256)> HashAsync(string path, CancellationToken ct)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        var hash = await SHA256.HashDataAsync(stream, ct);
        return (stream.Length, Convert.ToHexStringLower(hash));
    }

    /// <summary>A directory made empty for this run (a leftover of a killed run is deleted first), 0700, under an existing 0700 root.</summary>
    public static string FreshPrivateDirectory(string root, string name)
    {
        Directory.CreateDirectory(root, FileModes.Mode0700);
        var directory = Path.Combine(root, name);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        Directory.CreateDirectory(directory, FileModes.Mode0700);
        File.SetUnixFileMode(directory, FileModes.Mode0700);
        return directory;
    }

    public static void DeleteQuietly(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // The next run replaces the leftover (FreshPrivateDirectory).
        }
        catch (UnauthorizedAccessException)
        {
            // Same.
        }
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TenantBackupManifest))]
[JsonSerializable(typeof(BackupVerification))]
internal sealed partial class TenantBackupJsonContext : JsonSerializerContext;
