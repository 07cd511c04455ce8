using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// Deleting a tenant on a real PostgreSQL cluster (pg_dump, dropdb) and a real file system (tar,
/// the site files and filestore under a temp root); nginx is answered by the runner and recorded,
/// so the order of every step is visible. Interrupted runs are simulated by failing one step once.
/// </summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class TenantRemovalResourceTests(ScratchPostgres postgres) : IDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 12, 5, 10, 30, 0, TimeSpan.Zero);

    private readonly TempDirectory root = new();
    private readonly FakeTimeProvider time = new(Start);
    private readonly string tenant = "t" + ScratchPostgres.Unique();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private HostPaths Paths => new(root.Path);

    public void Dispose() => root.Dispose();

    private string[] SiteFiles =>
    [
        $"/etc/nginx/sites-enabled/t_{tenant}", $"/etc/nginx/sites-available/t_{tenant}",
        $"/etc/ssl/odoofleet/tenant-{tenant}.crt", $"/etc/ssl/odoofleet/tenant-{tenant}.key",
    ];

    private string Filestore => $"/var/lib/odoo/filestore/{tenant}";

    private string ArchiveRoot => Paths.Resolve(TenantRemovalSpec.DefaultArchiveRoot);

    private TenantRemovalResource Resource(ICommandRunner runner) => new(
        Paths, runner, postgres.Cluster, time, new TenantRemovalSpec(tenant, tenant, SiteFiles, Filestore, TenantRemovalSpec.DefaultArchiveRoot));

    private async Task<bool> DatabaseExistsAsync() =>
        await postgres.ScalarAsync("SELECT count(*) FROM pg_database WHERE datname = :'name';\n", Ct, new Dictionary<string, string> { ["name"] = tenant }) == "1";

    /// <summary>A tenant as the agent made it: database with a table, filestore with a file, site files and certificate.</summary>
    private async Task CreateTenantAsync()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        await postgres.ExecuteAsync($"CREATE DATABASE \"{tenant}\";\n", Ct);
        await postgres.Psql.In(tenant).ExecuteAsync("CREATE TABLE res_partner (name text); INSERT INTO res_partner VALUES ('Acme');\n", new Dictionary<string, string>(), Ct);
        var attachment = Paths.Resolve($"{Filestore}/ab/ab12");
        Directory.CreateDirectory(Path.GetDirectoryName(attachment)!);
        await File.WriteAllTextAsync(attachment, "an attachment", Ct);
        var available = Paths.Resolve(SiteFiles[1]);
        Directory.CreateDirectory(Path.GetDirectoryName(available)!);
        await File.WriteAllTextAsync(available, "server {}\n", Ct);
        Directory.CreateDirectory(Path.GetDirectoryName(Paths.Resolve(SiteFiles[0]))!);
        File.CreateSymbolicLink(Paths.Resolve(SiteFiles[0]), SiteFiles[1]);
        Directory.CreateDirectory(Path.GetDirectoryName(Paths.Resolve(SiteFiles[2]))!);
        await File.WriteAllTextAsync(Paths.Resolve(SiteFiles[2]), "cert", Ct);
        await File.WriteAllTextAsync(Paths.Resolve(SiteFiles[3]), "key", Ct);
    }

    /// <summary>Makes the runner record, at each step, which site files exist, whether a complete archive exists, and the filestore.</summary>
    private RecordingRunner Watched(RecordingRunner runner)
    {
        runner.Snapshot = () => (
            [.. SiteFiles.Select(f => File.Exists(Paths.Resolve(f)) || new FileInfo(Paths.Resolve(f)).LinkTarget is not null)],
            Directory.Exists(ArchiveRoot) && Directory.GetDirectories(ArchiveRoot).Any(d => File.Exists(Path.Combine(d, TenantRemovalResource.ManifestFile)) && !d.EndsWith(".partial", StringComparison.Ordinal)),
            Directory.Exists(Paths.Resolve(Filestore)));
        return runner;
    }

    [Fact]
    public async Task Apply_ActiveTenant_ArchivedFirstThenNginxThenDatabaseThenFilestoreAndSecondRunUnchanged()
    {
        await CreateTenantAsync();
        var runner = Watched(new RecordingRunner());

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        var steps = runner.Steps;
        Assert.Equal(["pg_dump", "tar", "nginx -t", "systemctl try-reload-or-restart nginx.service", "dropdb"], steps);
        Assert.All(runner.SiteFilesPresentAt["nginx -t"], present => Assert.False(present));
        Assert.True(runner.ArchiveCompleteAt["nginx -t"]);
        Assert.True(runner.FilestorePresentAt["dropdb"]);
        Assert.False(await DatabaseExistsAsync());
        Assert.False(Directory.Exists(Paths.Resolve(Filestore)));
        Assert.All(SiteFiles, f => Assert.False(File.Exists(Paths.Resolve(f)) || new FileInfo(Paths.Resolve(f)).LinkTarget is not null));

        var archive = Assert.Single(Directory.GetDirectories(ArchiveRoot));
        Assert.Equal($"{tenant}-20261205T103000Z", Path.GetFileName(archive));
        Assert.Empty(Directory.GetFiles(ArchiveRoot, ".*"));
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(archive, TenantRemovalResource.ManifestFile), Ct));
        Assert.Equal(tenant, manifest.RootElement.GetProperty("tenant").GetString());
        var files = manifest.RootElement.GetProperty("files").EnumerateArray().ToList();
        Assert.Equal([TenantRemovalResource.DumpFile, TenantRemovalResource.FilestoreFile], files.Select(f => f.GetProperty("name").GetString()));
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(archive, file.GetProperty("name").GetString()!), Ct);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), file.GetProperty("sha256").GetString());
            Assert.Equal(bytes.LongLength, file.GetProperty("bytes").GetInt64());
        }

        Assert.StartsWith("PGDMP", System.Text.Encoding.ASCII.GetString(await File.ReadAllBytesAsync(Path.Combine(archive, TenantRemovalResource.DumpFile), Ct), 0, 5), StringComparison.Ordinal);
        var listing = await new ProcessCommandRunner().RunCheckedAsync(new CommandSpec("tar", ["-tf", Path.Combine(archive, TenantRemovalResource.FilestoreFile)]), Ct);
        Assert.Contains($"{tenant}/ab/ab12", listing.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Apply_DropFailsOnce_NextConvergeFinishesWithoutASecondArchive()
    {
        await CreateTenantAsync();
        var runner = new RecordingRunner { FailOnce = "dropdb" };

        var interrupted = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));
        Assert.Equal(ResourceStatus.Failed, interrupted.Status);
        Assert.True(await DatabaseExistsAsync());
        Assert.True(Directory.Exists(Paths.Resolve(Filestore)));
        Assert.Single(Directory.GetFiles(ArchiveRoot, ".*.deleting"));

        // A restarted agent a minute later: the archive taken is the one kept.
        time.Advance(TimeSpan.FromMinutes(1));
        runner.Clear();
        var resumed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));

        Assert.Equal(ResourceStatus.Changed, resumed.Status);
        Assert.Equal(["nginx -t", "systemctl try-reload-or-restart nginx.service", "dropdb"], runner.Steps);
        Assert.False(await DatabaseExistsAsync());
        Assert.False(Directory.Exists(Paths.Resolve(Filestore)));
        Assert.Equal([$"{tenant}-20261205T103000Z"], Directory.GetDirectories(ArchiveRoot).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(ArchiveRoot, ".*"));
        Assert.Equal(ResourceStatus.Unchanged, (await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner))).Status);
    }

    [Fact]
    public async Task Apply_DumpFails_NothingRemovedAndNoArchiveLeft()
    {
        await CreateTenantAsync();
        var runner = new RecordingRunner { FailOnce = "pg_dump" };

        var failed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));

        Assert.Equal(ResourceStatus.Failed, failed.Status);
        Assert.Contains("nothing was removed", failed.Message, StringComparison.Ordinal);
        Assert.Equal(["pg_dump"], runner.Steps);
        Assert.True(await DatabaseExistsAsync());
        Assert.True(Directory.Exists(Paths.Resolve(Filestore)));
        Assert.All(SiteFiles, f => Assert.True(File.Exists(Paths.Resolve(f))));
        Assert.DoesNotContain(Directory.GetDirectories(ArchiveRoot), d => !d.EndsWith(".partial", StringComparison.Ordinal));

        // The next converge replaces the partial archive with a complete one and finishes.
        var resumed = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Resource(runner));
        Assert.Equal(ResourceStatus.Changed, resumed.Status);
        Assert.Equal([$"{tenant}-20261205T103000Z"], Directory.GetDirectories(ArchiveRoot).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Apply_UnfinishedClone_ScratchDatabasePartialCopyAndDumpRemovedWithoutAnArchive()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        await postgres.ExecuteAsync($"CREATE DATABASE \"{tenant}_clone\";\n", Ct);
        string[] leftovers = [$"{Filestore}.clone-partial", $"/var/lib/odoofleet/tenant-clone/{tenant}.dump"];
        Directory.CreateDirectory(Paths.Resolve($"{leftovers[0]}/ab"));
        Directory.CreateDirectory(Path.GetDirectoryName(Paths.Resolve(leftovers[1]))!);
        await File.WriteAllTextAsync(Paths.Resolve(leftovers[1]), "PGDMP", Ct);
        var runner = new RecordingRunner();
        TenantRemovalResource Removal() => new(
            Paths, runner, postgres.Cluster, time,
            new TenantRemovalSpec(tenant, tenant, SiteFiles, Filestore, TenantRemovalSpec.DefaultArchiveRoot) { CloneLeftovers = leftovers });

        var check = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Removal());
        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Removal());
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, Removal());

        Assert.Contains($"remove what an unfinished clone left (database {tenant}_clone, {leftovers[0]}, {leftovers[1]})", check.Message, StringComparison.Ordinal);
        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Equal(["dropdb"], runner.Steps);
        Assert.Equal("0", await postgres.ScalarAsync("SELECT count(*) FROM pg_database WHERE datname = :'name';\n", Ct, new Dictionary<string, string> { ["name"] = tenant + "_clone" }));
        Assert.All(leftovers, l => Assert.False(Path.Exists(Paths.Resolve(l))));
        Assert.False(Directory.Exists(ArchiveRoot) && Directory.GetDirectories(ArchiveRoot).Length > 0);
    }

    [Fact]
    public async Task Check_ActiveTenant_SaysEveryStepAndChangesNothing()
    {
        await CreateTenantAsync();
        var runner = new RecordingRunner();

        var checkedOnly = await ScratchPostgres.ConvergeAsync(ConvergeMode.Check, Ct, Resource(runner));

        Assert.Equal(ResourceStatus.Changed, checkedOnly.Status);
        Assert.Contains($"archive database {tenant}", checkedOnly.Message, StringComparison.Ordinal);
        Assert.Contains($"drop database {tenant} (terminating its connections)", checkedOnly.Message, StringComparison.Ordinal);
        Assert.Empty(runner.Steps);
        Assert.True(await DatabaseExistsAsync());
        Assert.False(Directory.Exists(ArchiveRoot));
    }

    [Fact]
    public async Task Prune_ArchivesOlderThanRetention_RemovedYoungerAndInUseKept()
    {
        Directory.CreateDirectory(ArchiveRoot);
        string[] names = ["acme-20261001T000000Z", "acme-20261201T000000Z", "beta-20261002T000000Z", "beta-20261003T000000Z.partial", "notes"];
        foreach (var name in names)
        {
            Directory.CreateDirectory(Path.Combine(ArchiveRoot, name));
        }

        await File.WriteAllTextAsync(Path.Combine(ArchiveRoot, TenantRemovalResource.MarkerName("beta")), "beta-20261002T000000Z\n", Ct);
        var prune = new TenantArchivePruneResource(Paths, time, TenantRemovalSpec.DefaultArchiveRoot, TimeSpan.FromDays(30));

        var first = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, prune);
        var second = await ScratchPostgres.ConvergeAsync(ConvergeMode.Apply, Ct, prune);

        Assert.Equal(ResourceStatus.Changed, first.Status);
        Assert.Equal(ResourceStatus.Unchanged, second.Status);
        Assert.Equal(["acme-20261201T000000Z", "beta-20261002T000000Z", "notes"], Directory.GetDirectories(ArchiveRoot).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Runs PostgreSQL programs and tar for real; answers nginx and systemctl (not ours to reload
    /// here). Records each step with what the file system and archive looked like at that moment.
    /// </summary>
    private sealed class RecordingRunner : ICommandRunner
    {
        private readonly ProcessCommandRunner real = new();
        private readonly List<string> steps = [];

        public string? FailOnce { get; set; }

        public IReadOnlyList<string> Steps => steps;

        public Dictionary<string, bool[]> SiteFilesPresentAt { get; } = [];

        public Dictionary<string, bool> ArchiveCompleteAt { get; } = [];

        public Dictionary<string, bool> FilestorePresentAt { get; } = [];

        public Func<(bool[] Site, bool Archive, bool Filestore)>? Snapshot { get; set; }

        public void Clear() => steps.Clear();

        public async Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
        {
            var program = spec.Program == "runuser" ? spec.Arguments[3] : spec.Program;
            if (program == "psql")
            {
                return await real.RunAsync(spec, ct);
            }

            var step = program switch
            {
                "nginx" => "nginx -t",
                "systemctl" => string.Join(' ', ["systemctl", .. spec.Arguments]),
                _ => program,
            };
            steps.Add(step);
            if (Snapshot?.Invoke() is { } snapshot)
            {
                (SiteFilesPresentAt[step], ArchiveCompleteAt[step], FilestorePresentAt[step]) = snapshot;
            }

            if (FailOnce == program)
            {
                FailOnce = null;
                return new CommandResult(1, "", $"{program}: failed on purpose", false);
            }

            return program is "nginx" or "systemctl" ? new CommandResult(0, "", "", false) : await real.RunAsync(spec, ct);
        }
    }
}
