using System.Globalization;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A deleted tenant's pieces on the host: its nginx site files and certificate (in the order they
/// are removed: the enabled link first), its database and its filestore, and where its final
/// archive goes.
/// </summary>
internal sealed record TenantRemovalSpec(string Name, string Database, IReadOnlyList<string> SiteFiles, string FilestorePath, string ArchiveRoot)
{
    public const string DefaultArchiveRoot = "/var/lib/odoofleet/tenant-archive";

    /// <summary>
    /// What an unfinished clone of this tenant can leave (its partial filestore copy, its dump): never
    /// served and never archived, removed with the tenant. Its scratch database is <see cref="CloneSeedDatabase"/>.
    /// </summary>
    public IReadOnlyList<string> CloneLeftovers { get; init; } = [];

    /// <summary>The scratch database an unfinished clone of this tenant leaves (see TenantCloneSpec.SeedDatabase).</summary>
    public string CloneSeedDatabase => Database + "_clone";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsDatabaseName(Name) || !Grammar.IsDatabaseName(Database) || Name.Contains('_', StringComparison.Ordinal))
        {
            errors.Add($"tenants.{Grammar.Printable(Name)}: name and database must be tenant names (lowercase letters, digits and inner hyphens); fix the tenant");
        }

        foreach (var path in (string[])[.. SiteFiles, FilestorePath, ArchiveRoot, .. CloneLeftovers])
        {
            if (!Grammar.IsSafeAbsolutePath(path) || path.EndsWith('/'))
            {
                errors.Add($"tenants.{Grammar.Printable(Name)}: '{Grammar.Printable(path)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'");
            }
        }

        return errors;
    }
}

/// <summary>One file of an archive as its manifest lists it.</summary>
internal sealed record TenantArchiveFile(string Name, long Bytes, string Sha256);

/// <summary>manifest.json of a tenant archive: written last, so an archive with a manifest is complete.</summary>
internal sealed record TenantArchiveManifest(
    string Tenant, string Database, DateTimeOffset ArchivedAt, IReadOnlyList<TenantArchiveFile> Files, string Restore);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(TenantArchiveManifest))]
internal sealed partial class TenantArchiveJsonContext : JsonSerializerContext;

/// <summary>
/// Deletes a tenant from the host, final backup first: pg_dump -Fc of its database and a tar of its
/// filestore go into ARCHIVE_ROOT/NAME-yyyyMMddTHHmmssZ/ with a manifest (sha256 of each file), all
/// fsynced and renamed into place complete; a marker then records that archive. Only then: the
/// nginx site and certificate are removed and nginx reloaded, the database dropped (its connections
/// terminated) and the filestore removed. Every step is safe to repeat and observation says which
/// remain, so a converge interrupted anywhere finishes on the next one without archiving twice and
/// without touching the database before its archive is complete.
/// </summary>
internal sealed partial class TenantRemovalResource : Resource<TenantRemovalResource.Observed>
{
    public const string DumpFile = TenantArchiveWriter.DumpFile;
    public const string FilestoreFile = TenantArchiveWriter.FilestoreFile;
    public const string ManifestFile = TenantArchiveWriter.ManifestFile;

    private readonly HostPaths paths;
    private readonly ICommandRunner runner;
    private readonly Psql psql;
    private readonly TimeProvider time;
    private readonly TenantRemovalSpec spec;

    public TenantRemovalResource(HostPaths paths, ICommandRunner runner, PostgresCluster cluster, TimeProvider time, TenantRemovalSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        (this.paths, this.runner, this.time, this.spec) = (paths, runner, time, spec);
        psql = new Psql(runner, cluster);
    }

    public TimeSpan DumpTimeout { get; init; } = TimeSpan.FromHours(2);

    /// <param name="Archive">The complete archive the marker names (directory name), or null.</param>
    /// <param name="CloneLeftovers">An unfinished clone's scratch database ("database NAME_clone") and files that exist.</param>
    internal sealed record Observed(bool DatabaseExists, bool FilestoreExists, IReadOnlyList<string> SiteFiles, bool MarkerExists, string? Archive) : Observation
    {
        public IReadOnlyList<string> CloneLeftovers { get; init; } = [];
    }

    public override string Id => $"tenant-removal:{spec.Name}";

    public override string Kind => "tenant-removal";

    /// <summary>The marker of an archive taken for a deletion still in progress (a dot file: pruning skips it).</summary>
    public static string MarkerName(string tenant) => $".{tenant}.deleting";

    /// <summary>An archive directory's name: the tenant and the UTC time it was taken.</summary>
    public static string ArchiveName(string tenant, DateTimeOffset at) =>
        $"{tenant}-{at.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>The tenant and time of an archive directory name (with or without ".partial"), or null.</summary>
    public static (string Tenant, DateTimeOffset At, bool Partial)? ParseArchiveName(string directoryName)
    {
        var match = ArchiveNamePattern().Match(directoryName);
        return match.Success
            && DateTimeOffset.TryParseExact(match.Groups["at"].Value, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? (match.Groups["tenant"].Value, at, match.Groups["partial"].Success)
            : null;
    }

    private string Root => paths.Resolve(spec.ArchiveRoot);

    private string MarkerPath => Path.Combine(Root, MarkerName(spec.Name));

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var rows = await psql.QueryAsync(
            "SELECT datname FROM pg_database WHERE datname IN (:'name', :'seed');\n",
            new Dictionary<string, string> { ["name"] = spec.Database, ["seed"] = spec.CloneSeedDatabase }, 1, ct);
        var databases = rows.Select(r => r[0]).ToHashSet(StringComparer.Ordinal);
        List<string> leftovers = databases.Contains(spec.CloneSeedDatabase) ? [$"database {spec.CloneSeedDatabase}"] : [];
        leftovers.AddRange(spec.CloneLeftovers.Where(p => Path.Exists(paths.Resolve(p))));
        var siteFiles = spec.SiteFiles.Where(f => new FileInfo(paths.Resolve(f)) is { } info && (info.Exists || info.LinkTarget is not null)).ToList();
        string? archive = null;
        var markerExists = File.Exists(MarkerPath);
        if (markerExists)
        {
            var named = (await File.ReadAllTextAsync(MarkerPath, ct)).Trim();
            if (ParseArchiveName(named) is { Partial: false } parsed && parsed.Tenant == spec.Name && File.Exists(Path.Combine(Root, named, ManifestFile)))
            {
                archive = named;
            }
        }

        return new Observed(databases.Contains(spec.Database), Directory.Exists(paths.Resolve(spec.FilestorePath)), siteFiles, markerExists, archive)
        {
            CloneLeftovers = leftovers,
        };
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var steps = new List<string>();
        if (observed.Archive is null && (observed.DatabaseExists || observed.FilestoreExists))
        {
            steps.Add($"archive database {spec.Database} and its filestore to {spec.ArchiveRoot}/{spec.Name}-<UTC time>/");
        }
        else if (observed.Archive is not null && (observed.DatabaseExists || observed.FilestoreExists || observed.SiteFiles.Count > 0))
        {
            steps.Add($"archive kept in {spec.ArchiveRoot}/{observed.Archive}/");
        }

        if (observed.SiteFiles.Count > 0)
        {
            steps.Add($"remove {string.Join(", ", observed.SiteFiles)}");
        }

        if (observed.SiteFiles.Count > 0 || observed.DatabaseExists)
        {
            steps.Add("reload nginx");
        }

        if (observed.DatabaseExists)
        {
            steps.Add($"drop database {spec.Database} (terminating its connections)");
        }

        if (observed.FilestoreExists)
        {
            steps.Add($"remove filestore {spec.FilestorePath}");
        }

        if (observed.CloneLeftovers.Count > 0)
        {
            steps.Add($"remove what an unfinished clone left ({string.Join(", ", observed.CloneLeftovers)})");
        }

        if (steps.Count == 0)
        {
            return observed.MarkerExists ? new RemovalChange($"tenant {spec.Name} is removed; forget its deletion marker", observed) : null;
        }

        return new RemovalChange($"delete tenant {spec.Name}: {string.Join("; ", steps)}", observed);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = ((RemovalChange)change).Observed;
        var archive = observed.Archive;
        if (archive is null && (observed.DatabaseExists || observed.FilestoreExists))
        {
            archive = await ArchiveAsync(observed, ct);
            await AtomicFile.WriteAsync(MarkerPath, System.Text.Encoding.UTF8.GetBytes(archive + "\n"), FileModes.Mode0600, ct);
        }

        // nginx first: no request reaches Odoo for a database that is going away.
        foreach (var file in observed.SiteFiles)
        {
            var full = paths.Resolve(file);
            File.Delete(full);
            Native.FsyncDirectory(Path.GetDirectoryName(full)!);
        }

        if (observed.SiteFiles.Count > 0 || observed.DatabaseExists)
        {
            await ReloadNginxAsync(ct);
        }

        if (observed.DatabaseExists)
        {
            await runner.RunCheckedAsync(
                new CommandSpec("dropdb", ["--force", "--if-exists", "-p", psql.Cluster.Port.ToString(CultureInfo.InvariantCulture), "--", spec.Database])
                {
                    Timeout = TimeSpan.FromMinutes(5),
                    WorkingDirectory = "/",
                }.AsUser(Psql.OsUser),
                ct);
        }

        if (observed.FilestoreExists)
        {
            var filestore = paths.Resolve(spec.FilestorePath);
            Directory.Delete(filestore, recursive: true);
            Native.FsyncDirectory(Path.GetDirectoryName(filestore)!);
        }

        await RemoveCloneLeftoversAsync(observed, ct);
        AtomicFile.TryDelete(MarkerPath);
        return archive is null
            ? $"tenant {spec.Name} removed (nothing left to archive)"
            : $"tenant {spec.Name} removed; its final archive is {spec.ArchiveRoot}/{archive}/";
    }

    /// <summary>An unfinished clone was never served and holds nothing the tenant's archive needs: it goes without one.</summary>
    private async Task RemoveCloneLeftoversAsync(Observed observed, CancellationToken ct)
    {
        if (observed.CloneLeftovers.Contains($"database {spec.CloneSeedDatabase}"))
        {
            await runner.RunCheckedAsync(
                new CommandSpec("dropdb", ["--force", "--if-exists", "-p", psql.Cluster.Port.ToString(CultureInfo.InvariantCulture), "--", spec.CloneSeedDatabase])
                {
                    Timeout = TimeSpan.FromMinutes(5),
                    WorkingDirectory = "/",
                }.AsUser(Psql.OsUser),
                ct);
        }

        foreach (var leftover in spec.CloneLeftovers.Select(paths.Resolve))
        {
            if (Directory.Exists(leftover))
            {
                Directory.Delete(leftover, recursive: true);
            }
            else
            {
                AtomicFile.TryDelete(leftover);
            }
        }
    }

    private async Task ReloadNginxAsync(CancellationToken ct)
    {
        var test = new CommandSpec("nginx", ["-t", "-q"]);
        var tested = await runner.RunAsync(test, ct);
        if (!tested.Succeeded)
        {
            throw new ResourceFailedException(
                $"nginx -t fails, so nginx was not reloaded and database {spec.Database} was not dropped: {tested.Describe(test)}; fix the nginx configuration, the next converge goes on");
        }

        // Reloads a running nginx (and waits until its old workers stopped serving the site); a stopped
        // one loads the files as they are when it starts.
        await new NginxReloadWatch(paths, time).ReloadAsync(
            () => runner.RunCheckedAsync(new CommandSpec("systemctl", ["try-reload-or-restart", "nginx.service"]), ct), ct);
    }

    private async Task<string> ArchiveAsync(Observed observed, CancellationToken ct)
    {
        Directory.CreateDirectory(Root, FileModes.Mode0700);
        foreach (var leftover in Directory.GetDirectories(Root))
        {
            // A partial archive of this tenant is what an interrupted archive left: it is never complete.
            if (ParseArchiveName(Path.GetFileName(leftover)) is { Partial: true } parsed && parsed.Tenant == spec.Name)
            {
                Directory.Delete(leftover, recursive: true);
            }
        }

        var at = time.GetUtcNow();
        var name = ArchiveName(spec.Name, at);
        var final = Path.Combine(Root, name);
        if (Directory.Exists(final))
        {
            throw new ResourceFailedException($"{spec.ArchiveRoot}/{name} exists already; an archive is never overwritten, converge again in a second");
        }

        var partial = final + ".partial";
        Directory.CreateDirectory(partial, FileModes.Mode0700);
        await TenantArchiveWriter.WriteAsync(
            runner, psql, spec.Name, spec.Database, observed.DatabaseExists ? spec.Database : null,
            observed.FilestoreExists ? paths.Resolve(spec.FilestorePath) : null, spec.FilestorePath, partial, at, DumpTimeout, "final backup", ct);
        Native.Rename(partial, final);
        Native.FsyncDirectory(Root);
        return name;
    }

    [GeneratedRegex(@"^(?<tenant>[a-z][a-z0-9-]{0,29})-(?<at>[0-9]{8}T[0-9]{6}Z)(?<partial>\.partial)?\z")]
    private static partial Regex ArchiveNamePattern();

    private sealed record RemovalChange(string Description, Observed Observed) : Change(Description);
}
