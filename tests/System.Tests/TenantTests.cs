using System.Globalization;
using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// Tenants on the four test hosts: 200 created through the CLI, spread by placement without
/// over-committing any host; each one's primary domain answers through nginx on its host with
/// its own certificate and lands on its own database (the fixture Odoo applies dbfilter ^%d$ as
/// Odoo 18 does); aliases redirect. There is no `fleet tenant delete` yet: the tenants stay on
/// the hosts for the rest of the run.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class TenantTests(LiveFleet stack)
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

        // A second converge on a host with its tenants changes nothing.
        var check = await LiveFleet.OnHostAsync(LiveFleet.HostNames[0], "odoofleet-agent", "converge", "--check");
        Assert.True(check.ExitCode == 0, check.Describe());
    }
}
