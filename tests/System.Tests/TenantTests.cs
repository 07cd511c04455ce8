using System.Globalization;
using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// Tenants on the four test hosts: 200 created through the CLI, spread by placement without
/// over-committing any host; each one's primary domain answers through nginx on its host with
/// its own certificate and lands on its own database (the fixture Odoo applies dbfilter ^%d$ as
/// Odoo 18 does); aliases redirect. One is suspended (503 maintenance page) and resumed. Every
/// tenant the class made is deleted through `fleet tenant delete --yes` when it ends, failed or
/// not (and leftovers of a killed run before it starts), so the shared test hosts are left clean.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class TenantTests(LiveFleet stack) : IAsyncLifetime
{
    private const int Count = 200;
    private const long MiB = 1024 * 1024;
    private const string Zone = "tenants.odoofleet.test";
    private static readonly TimeSpan ConvergeDeadline = TimeSpan.FromMinutes(40);

    // testhosts.sh: th<n> is 10.231.0.(10 + n).
    private static string AddressOf(string host) => $"10.231.0.{10 + int.Parse(host[2..], CultureInfo.InvariantCulture)}";

    private static string NameOf(int i) => string.Create(CultureInfo.InvariantCulture, $"st-{i:D3}");

    private static string PrimaryOf(string name) => $"{name}.{Zone}";

    private static string AliasOf(string name) => $"www.{name}-shop.odoofleet.test";

    public async ValueTask InitializeAsync() => await DeleteAllAsync(verify: false);

    public async ValueTask DisposeAsync() => await DeleteAllAsync(verify: true);

    /// <summary>The tenants this class makes: named st-*, whatever state they are in.</summary>
    private static async Task<List<(string Name, string Host)>> OursAsync()
    {
        var listed = await LiveFleet.FleetJsonAsync("tenant", "list", "--search", "st-", "--limit", "10000");
        return [.. listed.GetProperty("tenants").EnumerateArray()
            .Select(t => (Name: t.GetProperty("name").GetString()!, Host: t.GetProperty("hostName").GetString()!))
            .Where(t => t.Name.StartsWith("st-", StringComparison.Ordinal))];
    }

    /// <summary>
    /// Deletes every st-* tenant with `fleet tenant delete --yes` and waits until their hosts have
    /// reported it (the controller then forgets them). With <paramref name="verify"/>: no st-*
    /// database is left on any host, and each host keeps the final archives with their manifests.
    /// </summary>
    private static async Task DeleteAllAsync(bool verify)
    {
        var ours = await OursAsync();
        foreach (var (name, _) in ours)
        {
            var deleted = await LiveFleet.FleetAsync("tenant", "delete", name, "--yes");
            Assert.True(deleted.ExitCode == 0, $"{name}: {deleted.Describe()}");
        }

        if (ours.Count == 0)
        {
            return;
        }

        await Eventually.UntilAsync(async () => (List<(string, string)>?)await OursAsync(), left => left is { Count: 0 }, ConvergeDeadline, "every st-* tenant deleted");
        if (!verify)
        {
            return;
        }

        foreach (var host in ours.Select(t => t.Host).Distinct())
        {
            var databases = await LiveFleet.OnHostAsync(
                host, "runuser", "-u", "postgres", "--", "psql", "-XAtc", "SELECT count(*) FROM pg_database WHERE datname LIKE 'st-%'");
            Assert.True(databases.ExitCode == 0 && databases.Stdout.Trim() == "0", $"{host}: {databases.Describe()}");
            var site = await LiveFleet.OnHostAsync(host, "sh", "-c", "ls /etc/nginx/sites-enabled/ | grep -c '^t_st_' || true");
            Assert.Equal("0", site.Stdout.Trim());
            var first = ours.First(t => t.Host == host).Name;
            var manifest = await LiveFleet.OnHostAsync(host, "sh", "-c", $"cat /var/lib/odoofleet/tenant-archive/{first}-*/manifest.json");
            Assert.True(manifest.ExitCode == 0, $"{host}: no final archive of {first}: {manifest.Describe()}");
            Assert.Contains("\"sha256\"", manifest.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Create_TwoHundredThroughTheCli_SpreadWithoutOvercommitAndEachServedOnItsOwnDatabase()
    {
        Assert.NotNull(stack);
        var ct = TestContext.Current.CancellationToken;

        // Tenant databases need Odoo on the hosts (a no-op when every host already runs 18.0).
        var rollout = await LiveFleet.FleetAsync("rollout", "--version", "18.0", "--wait");
        Assert.True(rollout.ExitCode == 0, rollout.Describe());

        var dry = await LiveFleet.FleetJsonAsync("tenant", "create", NameOf(0), "--domain", PrimaryOf(NameOf(0)), "--dry-run");
        Assert.True(dry.GetProperty("dryRun").GetBoolean());
        Assert.Equal(LiveFleet.HostNames.Length, dry.GetProperty("placement").GetArrayLength());
        Assert.False(dry.GetProperty("created").GetBoolean());

        for (var i = 0; i < Count; i++)
        {
            var name = NameOf(i);
            var created = await LiveFleet.FleetAsync("tenant", "create", name, "--domain", PrimaryOf(name), "--domain", AliasOf(name), "-o", "json");
            Assert.True(created.ExitCode == 0, $"{name}: {created.Describe()}");
        }

        // The same arguments again change nothing; other arguments for the name are refused.
        var again = await LiveFleet.FleetJsonAsync("tenant", "create", NameOf(7), "--domain", PrimaryOf(NameOf(7)), "--domain", AliasOf(NameOf(7)));
        Assert.False(again.GetProperty("created").GetBoolean());
        var conflict = await LiveFleet.FleetAsync("tenant", "create", NameOf(7), "--domain", PrimaryOf(NameOf(7)), "--plan", "large");
        Assert.Equal(1, conflict.ExitCode);
        var stolen = await LiveFleet.FleetAsync("tenant", "create", "st-thief", "--domain", "st-thief.odoofleet.test", "--domain", AliasOf(NameOf(8)));
        Assert.Equal(1, stolen.ExitCode);
        Assert.Contains($"{AliasOf(NameOf(8))} (tenant {NameOf(8)})", stolen.Stderr, StringComparison.Ordinal);

        // Spread without over-commit: recomputed here from the hosts' reported facts, not taken from placement.
        var listed = await LiveFleet.FleetJsonAsync("tenant", "list", "--search", "st-", "--limit", "10000");
        var tenants = listed.GetProperty("tenants").EnumerateArray().Where(t => t.GetProperty("name").GetString()!.StartsWith("st-", StringComparison.Ordinal)).ToList();
        Assert.Equal(Count, tenants.Count);
        var perHost = tenants.GroupBy(t => t.GetProperty("hostName").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(LiveFleet.HostNames.Order(), perHost.Keys.Order());
        Assert.True(perHost.Values.Max() - perHost.Values.Min() <= 2, $"uneven spread: {string.Join(", ", perHost.Select(p => $"{p.Key}={p.Value}"))}");
        foreach (var (host, count) in perHost)
        {
            var shown = await LiveFleet.FleetJsonAsync("host", "show", host);
            var facts = shown.GetProperty("facts");
            var memoryMiB = facts.GetProperty("memoryBytes").GetInt64() / MiB;
            var workers = (2 * facts.GetProperty("cpuCores").GetInt32()) + 1;
            Assert.True(count * 64 <= memoryMiB - 1024, $"{host}: {count} small tenants reserve more than its {memoryMiB} MiB allow");
            Assert.True(count * 50 <= workers * 1000, $"{host}: {count} small tenants need more than its {workers} workers");
            Assert.True(count <= 250, $"{host}: {count} tenants, above the per-host limit");
        }

        // `fleet hosts` counts them and says how many more small ones each host takes.
        var hosts = await LiveFleet.FleetJsonAsync("hosts");
        foreach (var host in hosts.EnumerateArray().Where(h => perHost.ContainsKey(h.GetProperty("name").GetString()!)))
        {
            Assert.Equal(perHost[host.GetProperty("name").GetString()!], host.GetProperty("tenants").GetInt32());
            Assert.True(host.GetProperty("tenantRoom").GetInt32() >= 0, host.ToString());
        }

        // Converged: every host applied its newest generation and every tenant is active.
        await LiveFleet.AllConvergedAsync(ConvergeDeadline);
        await Eventually.UntilAsync(
            async () => (JsonElement?)await LiveFleet.FleetJsonAsync("tenant", "list", "--search", "st-", "--state", "creating"),
            l => l is { } list && list.GetProperty("tenants").GetArrayLength() == 0,
            ConvergeDeadline, "every tenant active");

        // Sizes: each host's agent measures its tenants after a converge that created one (then every 10 minutes).
        var sized = await Eventually.UntilAsync(
            async () => (JsonElement?)await LiveFleet.FleetJsonAsync("tenant", "show", NameOf(0)),
            t => t is { } shown && shown.GetProperty("databaseBytes") is { ValueKind: JsonValueKind.Number } bytes && bytes.GetInt64() > 0,
            ConvergeDeadline, $"{NameOf(0)}'s database size reported by its host");
        Assert.Equal(JsonValueKind.Number, sized!.Value.GetProperty("filestoreBytes").ValueKind);
        Assert.Equal(JsonValueKind.Null, sized.Value.GetProperty("lastBackupAt").ValueKind);
        var shownSizes = await LiveFleet.FleetAsync("tenant", "show", NameOf(0));
        Assert.Matches(@"database size:\s+[0-9.]+ MiB \(measured ", shownSizes.Stdout);
        Assert.Matches(@"last backup:\s+none yet", shownSizes.Stdout);

        // Each primary domain: nginx on its host, its own certificate, its own database.
        var caDir = Directory.CreateTempSubdirectory("odoofleet-tenants-");
        try
        {
            foreach (var tenant in tenants)
            {
                var name = tenant.GetProperty("name").GetString()!;
                var host = tenant.GetProperty("hostName").GetString()!;
                var cert = await LiveFleet.OnHostAsync(host, "cat", $"/etc/ssl/odoofleet/tenant-{name}.crt");
                Assert.True(cert.ExitCode == 0, $"{name} on {host}: {cert.Describe()}");
                var ca = Path.Combine(caDir.FullName, $"{name}.pem");
                await File.WriteAllTextAsync(ca, cert.Stdout, ct);

                // --cacert with only this tenant's self-signed certificate: verifies only if nginx served exactly it.
                var login = await Proc.RunAsync(
                    "curl", ["-sS", "--max-time", "20", "--cacert", ca, "--resolve", $"{PrimaryOf(name)}:443:{AddressOf(host)}", $"https://{PrimaryOf(name)}/web/login"],
                    TimeSpan.FromSeconds(40));
                Assert.True(login.ExitCode == 0, $"{name} on {host}: {login.Describe()}");
                Assert.Contains($"<span class='db'>{name}</span>", login.Stdout, StringComparison.Ordinal);

                var alias = await Proc.RunAsync(
                    "curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--max-time", "20", "--cacert", ca,
                        "--resolve", $"{AliasOf(name)}:443:{AddressOf(host)}", $"https://{AliasOf(name)}/web/login"],
                    TimeSpan.FromSeconds(40));
                Assert.Equal($"301 https://{PrimaryOf(name)}/web/login", alias.Stdout.Trim());
            }
        }
        finally
        {
            caDir.Delete(recursive: true);
        }

        await SuspendAndResumeAsync(tenants[0], ct);

        // A second converge on a host with its tenants changes nothing.
        var check = await LiveFleet.OnHostAsync(LiveFleet.HostNames[0], "odoofleet-agent", "converge", "--check");
        Assert.True(check.ExitCode == 0, check.Describe());
    }

    /// <summary>Suspended: the primary domain answers 503 with the maintenance page and Retry-After; resumed: Odoo's login page again.</summary>
    private static async Task SuspendAndResumeAsync(JsonElement tenant, CancellationToken ct)
    {
        var name = tenant.GetProperty("name").GetString()!;
        var host = tenant.GetProperty("hostName").GetString()!;
        var caDir = Directory.CreateTempSubdirectory("odoofleet-suspend-");
        try
        {
            var cert = await LiveFleet.OnHostAsync(host, "cat", $"/etc/ssl/odoofleet/tenant-{name}.crt");
            Assert.True(cert.ExitCode == 0, cert.Describe());
            var ca = Path.Combine(caDir.FullName, "tenant.pem");
            await File.WriteAllTextAsync(ca, cert.Stdout, ct);
            Task<ProcResult> GetAsync() => Proc.RunAsync(
                "curl", ["-sS", "-i", "--max-time", "20", "--cacert", ca, "--resolve", $"{PrimaryOf(name)}:443:{AddressOf(host)}", $"https://{PrimaryOf(name)}/web/login"],
                TimeSpan.FromSeconds(40));

            var suspended = await LiveFleet.FleetJsonAsync("tenant", "suspend", name);
            Assert.True(suspended.GetProperty("changed").GetBoolean(), suspended.ToString());
            var again = await LiveFleet.FleetAsync("tenant", "suspend", name);
            Assert.True(again.ExitCode == 0, again.Describe());
            Assert.Contains("nothing changed", again.Stdout, StringComparison.Ordinal);
            await Eventually.UntilAsync(
                async () => (JsonElement?)await LiveFleet.FleetJsonAsync("tenant", "show", name),
                t => t is { } shown && shown.GetProperty("state").GetString() == "suspended",
                ConvergeDeadline, $"{name} suspended");

            var maintenance = await GetAsync();
            Assert.True(maintenance.ExitCode == 0, maintenance.Describe());
            Assert.Matches(@"^HTTP/[0-9.]+ 503", maintenance.Stdout);
            Assert.Contains("retry-after: 3600", maintenance.Stdout, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("temporarily unavailable", maintenance.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain($"<span class='db'>{name}</span>", maintenance.Stdout, StringComparison.Ordinal);

            var resumed = await LiveFleet.FleetJsonAsync("tenant", "resume", name);
            Assert.True(resumed.GetProperty("changed").GetBoolean(), resumed.ToString());
            await Eventually.UntilAsync(
                async () => (JsonElement?)await LiveFleet.FleetJsonAsync("tenant", "show", name),
                t => t is { } shown && shown.GetProperty("state").GetString() == "active",
                ConvergeDeadline, $"{name} active again");
            var login = await GetAsync();
            Assert.True(login.ExitCode == 0, login.Describe());
            Assert.Contains($"<span class='db'>{name}</span>", login.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            caDir.Delete(recursive: true);
        }
    }
}
