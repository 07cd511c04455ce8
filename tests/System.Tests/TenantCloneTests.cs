using System.Globalization;
using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// `fleet tenant clone --neutralize` on a test host: a source tenant with "live" rows (an active
/// cron, an active outgoing mail server, an enabled payment provider, a data row, a filestore
/// file) is cloned; the copy on the same host has the data and the file, its crons, mail server and
/// payment provider are off and database.is_neutralized is true (the fixture Odoo's neutralize runs
/// the installed modules' neutralize.sql as Odoo 18's does), the source is untouched, and the copy's
/// domain answers through nginx on its own database. Every sc-* tenant is deleted with
/// `fleet tenant delete --yes` before and after, so the shared test hosts are left clean.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class TenantCloneTests(LiveFleet stack) : IAsyncLifetime
{
    private const string Source = "sc-src";
    private const string Clone = "sc-stage";
    private const string Zone = "clones.odoofleet.test";
    private static readonly TimeSpan ConvergeDeadline = TimeSpan.FromMinutes(15);

    private static string AddressOf(string host) => $"10.231.0.{10 + int.Parse(host[2..], CultureInfo.InvariantCulture)}";

    private static string DomainOf(string name) => $"{name}.{Zone}";

    public async ValueTask InitializeAsync() => await DeleteOursAsync();

    public async ValueTask DisposeAsync() => await DeleteOursAsync();

    private static async Task<List<(string Name, string Host)>> OursAsync()
    {
        var listed = await LiveFleet.FleetJsonAsync("tenant", "list", "--search", "sc-");
        return [.. listed.GetProperty("tenants").EnumerateArray()
            .Select(t => (Name: t.GetProperty("name").GetString()!, Host: t.GetProperty("hostName").GetString()!))
            .Where(t => t.Name.StartsWith("sc-", StringComparison.Ordinal))];
    }

    /// <summary>Deletes every sc-* tenant (clone first) and waits until no database of theirs is left on their hosts.</summary>
    private static async Task DeleteOursAsync()
    {
        var ours = await OursAsync();
        foreach (var (name, _) in ours.OrderByDescending(t => t.Name == Clone))
        {
            var deleted = await LiveFleet.FleetAsync("tenant", "delete", name, "--yes");
            Assert.True(deleted.ExitCode == 0, $"{name}: {deleted.Describe()}");
        }

        await Eventually.UntilAsync(async () => (List<(string, string)>?)await OursAsync(), left => left is { Count: 0 }, ConvergeDeadline, "every sc-* tenant deleted");
        foreach (var host in ours.Select(t => t.Host).Distinct())
        {
            var left = await SqlAsync(host, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'sc-%'");
            Assert.Equal("0", left);
        }
    }

    /// <summary>psql -XAt as postgres on a host; returns the output, trimmed (asserts success).</summary>
    private static async Task<string> SqlAsync(string host, string database, string sql)
    {
        var r = await LiveFleet.OnHostAsync(host, "runuser", "-u", "postgres", "--", "psql", "-XAt", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql);
        Assert.True(r.ExitCode == 0, $"{host} {database}: {sql}: {r.Describe()}");
        return r.Stdout.Trim();
    }

    private static async Task<JsonElement> ActiveAsync(string name) =>
        await Eventually.UntilAsync(
            async () => (JsonElement?)await LiveFleet.FleetJsonAsync("tenant", "show", name),
            t => t is { } shown && shown.GetProperty("state").GetString() == "active",
            ConvergeDeadline, $"{name} active") ?? throw new InvalidOperationException(name);

    [Fact]
    public async Task Clone_Neutralize_CopyHasDataAndFileWithMailCronsAndPaymentsOffSourceUntouched()
    {
        Assert.NotNull(stack);
        var ct = TestContext.Current.CancellationToken;

        // The hosts run the fixture's newest 18.0 commit (its odoo-bin has `neutralize`).
        var rollout = await LiveFleet.FleetAsync("rollout", "--version", "18.0", "--wait");
        Assert.True(rollout.ExitCode == 0, rollout.Describe());

        var created = await LiveFleet.FleetJsonAsync("tenant", "create", Source, "--domain", DomainOf(Source), "--modules", "mail,payment");
        Assert.True(created.GetProperty("created").GetBoolean(), created.ToString());
        var host = (await ActiveAsync(Source)).GetProperty("hostName").GetString()!;

        // "Live" rows in the source, owned by the odoo role as Odoo's own tables are; a filestore file.
        await SqlAsync(host, Source,
            """
            SET ROLE odoo;
            CREATE TABLE ir_cron (id serial PRIMARY KEY, name text NOT NULL, active boolean NOT NULL);
            INSERT INTO ir_cron (name, active) VALUES ('Mail: Email Queue Manager', true), ('Payment: Post-process transactions', true);
            CREATE TABLE ir_mail_server (id serial PRIMARY KEY, name text NOT NULL, smtp_host text NOT NULL, active boolean NOT NULL);
            INSERT INTO ir_mail_server (name, smtp_host, active) VALUES ('production smtp', 'smtp.example.com', true);
            CREATE TABLE payment_provider (id serial PRIMARY KEY, name text NOT NULL, state text NOT NULL);
            INSERT INTO payment_provider (name, state) VALUES ('Stripe', 'enabled'), ('Demo', 'test');
            CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar NOT NULL UNIQUE, value text NOT NULL);
            INSERT INTO ir_config_parameter (key, value) VALUES ('database.uuid', '8d3b6f1e-0000-4000-8000-00000000c10e');
            CREATE TABLE res_partner (id serial PRIMARY KEY, name text NOT NULL);
            INSERT INTO res_partner (name) VALUES ('Written before the clone');
            """);
        var file = await LiveFleet.OnHostAsync(host, "sh", "-c",
            $"install -d -o odoo -g odoo /var/lib/odoo/filestore/{Source}/4f && printf 'an attachment' > /var/lib/odoo/filestore/{Source}/4f/4f1c && chown odoo:odoo /var/lib/odoo/filestore/{Source}/4f/4f1c");
        Assert.True(file.ExitCode == 0, file.Describe());

        // Only the source's host is accepted.
        var otherHost = LiveFleet.HostNames.First(h => h != host);
        var refused = await LiveFleet.FleetAsync("tenant", "clone", Source, "--as", Clone, "--domain", DomainOf(Clone), "--neutralize", "--host", otherHost);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"a clone is made on its source's host (tenant {Source} is on {host})", refused.Stderr, StringComparison.Ordinal);

        var cloned = await LiveFleet.FleetJsonAsync("tenant", "clone", Source, "--as", Clone, "--domain", DomainOf(Clone), "--neutralize");
        Assert.True(cloned.GetProperty("created").GetBoolean(), cloned.ToString());
        var tenant = cloned.GetProperty("tenant");
        Assert.Equal(host, tenant.GetProperty("hostName").GetString());
        Assert.Equal(Source, tenant.GetProperty("cloneOf").GetString());
        Assert.True(tenant.GetProperty("neutralized").GetBoolean());
        var again = await LiveFleet.FleetJsonAsync("tenant", "clone", Source, "--as", Clone, "--domain", DomainOf(Clone), "--neutralize");
        Assert.False(again.GetProperty("created").GetBoolean(), again.ToString());

        var shown = await ActiveAsync(Clone);
        Assert.Equal(Source, shown.GetProperty("cloneOf").GetString());
        Assert.True(shown.GetProperty("neutralized").GetBoolean());
        var text = await LiveFleet.FleetAsync("tenant", "show", Clone);
        Assert.Contains("clone:", text.Stdout, StringComparison.Ordinal);
        Assert.Contains($"of {Source}, neutralized", text.Stdout, StringComparison.Ordinal);

        // The copy: the data and the file, everything that reaches the outside world off, the flag set, its own identity.
        Assert.Equal("Written before the clone", await SqlAsync(host, Clone, "SELECT name FROM res_partner"));
        Assert.Equal("f|f", await SqlAsync(host, Clone, "SELECT string_agg(CASE WHEN active THEN 't' ELSE 'f' END, '|' ORDER BY id) FROM ir_cron"));
        Assert.Equal("f", await SqlAsync(host, Clone, "SELECT CASE WHEN active THEN 't' ELSE 'f' END FROM ir_mail_server"));
        Assert.Equal("Demo=test|Stripe=disabled", await SqlAsync(host, Clone, "SELECT string_agg(name || '=' || state, '|' ORDER BY name) FROM payment_provider"));
        Assert.Equal("true", await SqlAsync(host, Clone, "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"));
        var uuid = await SqlAsync(host, Clone, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'");
        Assert.Matches("^[0-9a-f-]{36}$", uuid);
        Assert.NotEqual("8d3b6f1e-0000-4000-8000-00000000c10e", uuid);
        Assert.Equal("odoo", await SqlAsync(host, "postgres", $"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{Clone}'"));
        Assert.Equal("0", await SqlAsync(host, "postgres", $"SELECT count(*) FROM pg_database WHERE datname = '{Clone}_clone'"));
        var copied = await LiveFleet.OnHostAsync(host, "sh", "-c", $"cat /var/lib/odoo/filestore/{Clone}/4f/4f1c && stat -c ' %U' /var/lib/odoo/filestore/{Clone}/4f/4f1c");
        Assert.Equal("an attachment odoo", copied.Stdout.Trim());

        // The source: untouched.
        Assert.Equal("t|t", await SqlAsync(host, Source, "SELECT string_agg(CASE WHEN active THEN 't' ELSE 'f' END, '|' ORDER BY id) FROM ir_cron"));
        Assert.Equal("t", await SqlAsync(host, Source, "SELECT CASE WHEN active THEN 't' ELSE 'f' END FROM ir_mail_server"));
        Assert.Equal("Demo=test|Stripe=enabled", await SqlAsync(host, Source, "SELECT string_agg(name || '=' || state, '|' ORDER BY name) FROM payment_provider"));
        Assert.Equal("0", await SqlAsync(host, Source, "SELECT count(*) FROM ir_config_parameter WHERE key = 'database.is_neutralized'"));
        Assert.Equal("8d3b6f1e-0000-4000-8000-00000000c10e", await SqlAsync(host, Source, "SELECT value FROM ir_config_parameter WHERE key = 'database.uuid'"));

        // The copy's domain: nginx on the host, its own certificate, its own database.
        var caDir = Directory.CreateTempSubdirectory("odoofleet-clone-");
        try
        {
            var cert = await LiveFleet.OnHostAsync(host, "cat", $"/etc/ssl/odoofleet/tenant-{Clone}.crt");
            Assert.True(cert.ExitCode == 0, cert.Describe());
            var ca = Path.Combine(caDir.FullName, "clone.pem");
            await File.WriteAllTextAsync(ca, cert.Stdout, ct);
            var login = await Proc.RunAsync(
                "curl", ["-sS", "--max-time", "20", "--cacert", ca, "--resolve", $"{DomainOf(Clone)}:443:{AddressOf(host)}", $"https://{DomainOf(Clone)}/web/login"],
                TimeSpan.FromSeconds(40));
            Assert.True(login.ExitCode == 0, login.Describe());
            Assert.Contains($"<span class='db'>{Clone}</span>", login.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            caDir.Delete(recursive: true);
        }

        // A second converge changes nothing (the clone is seeded once).
        var check = await LiveFleet.OnHostAsync(host, "odoofleet-agent", "converge", "--check");
        Assert.True(check.ExitCode == 0, check.Describe());
        Assert.Matches($@"(?m)^UNCHANGED\s+tenant-clone:{Clone}\s", check.Stdout);
    }
}
