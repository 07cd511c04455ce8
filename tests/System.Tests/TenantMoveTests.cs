using System.Globalization;
using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// `fleet tenant move` between two test hosts with the controller the CLI called SIGKILLed in the
/// middle: a tenant on th1 with rows and a filestore file written before the move is moved to th2;
/// once the archive has reached the controllers (step importing) controller 1 is killed. The move
/// still finishes (the other controller carries it on from the hosts' reports): the tenant belongs
/// to th2, its rows and file are there, its domain answers through th2's nginx with its own
/// certificate on its own database, and th1 has archived and removed its copy (no database, no
/// filestore, no site). Every sm-* tenant is deleted with `fleet tenant delete --yes` before and after.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class TenantMoveTests(LiveFleet stack) : IAsyncLifetime
{
    private const string Name = "sm-move";
    private const string From = "th1";
    private const string To = "th2";
    private const string Domain = "sm-move.moves.odoofleet.test";
    private static readonly TimeSpan ConvergeDeadline = TimeSpan.FromMinutes(15);

    private static string AddressOf(string host) => $"10.231.0.{10 + int.Parse(host[2..], CultureInfo.InvariantCulture)}";

    public async ValueTask InitializeAsync() => await DeleteOursAsync();

    public async ValueTask DisposeAsync() => await DeleteOursAsync();

    private static async Task<List<string>> OursAsync()
    {
        var listed = await LiveFleet.FleetJsonAsync("tenant", "list", "--search", "sm-");
        return [.. listed.GetProperty("tenants").EnumerateArray()
            .Select(t => t.GetProperty("name").GetString()!)
            .Where(n => n.StartsWith("sm-", StringComparison.Ordinal))];
    }

    private static async Task DeleteOursAsync()
    {
        foreach (var name in await OursAsync())
        {
            var deleted = await LiveFleet.FleetAsync("tenant", "delete", name, "--yes");
            Assert.True(deleted.ExitCode == 0, $"{name}: {deleted.Describe()}");
        }

        await Eventually.UntilAsync(async () => (List<string>?)await OursAsync(), left => left is { Count: 0 }, ConvergeDeadline, "every sm-* tenant deleted");
        foreach (var host in new[] { From, To })
        {
            Assert.Equal("0", await SqlAsync(host, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'sm-%'"));
        }
    }

    /// <summary>psql -XAt as postgres on a host; returns the output, trimmed (asserts success).</summary>
    private static async Task<string> SqlAsync(string host, string database, string sql)
    {
        var r = await LiveFleet.OnHostAsync(host, "runuser", "-u", "postgres", "--", "psql", "-XAt", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql);
        Assert.True(r.ExitCode == 0, $"{host} {database}: {sql}: {r.Describe()}");
        return r.Stdout.Trim();
    }

    private static async Task<JsonElement> ShowAsync() => await LiveFleet.FleetJsonAsync("tenant", "show", Name);

    private static string? StepOf(JsonElement tenant) =>
        tenant.TryGetProperty("lastMove", out var move) && move.ValueKind == JsonValueKind.Object ? move.GetProperty("step").GetString() : null;

    [Fact]
    public async Task Move_ControllerKilledWhileImporting_FinishesOnTargetWithDataAndFile_SourceCopyRemoved()
    {
        Assert.NotNull(stack);
        var ct = TestContext.Current.CancellationToken;

        // Both hosts run a release (a move's target must).
        var rollout = await LiveFleet.FleetAsync("rollout", "--version", "18.0", "--wait");
        Assert.True(rollout.ExitCode == 0, rollout.Describe());

        var created = await LiveFleet.FleetJsonAsync("tenant", "create", Name, "--domain", Domain, "--host", From, "--modules", "mail");
        Assert.True(created.GetProperty("created").GetBoolean(), created.ToString());
        await Eventually.UntilAsync(async () => (JsonElement?)await ShowAsync(), t => t is { } s && s.GetProperty("state").GetString() == "active", ConvergeDeadline, $"{Name} active");

        // Written before the move: rows (owned by the odoo role, as Odoo's tables are) and a filestore file.
        await SqlAsync(From, Name,
            """
            SET ROLE odoo;
            CREATE TABLE res_partner (id serial PRIMARY KEY, name text NOT NULL);
            INSERT INTO res_partner (name) SELECT 'partner ' || g FROM generate_series(1, 500) g;
            INSERT INTO res_partner (name) VALUES ('Written before the move');
            """);
        var file = await LiveFleet.OnHostAsync(From, "sh", "-c",
            $"install -d -o odoo -g odoo /var/lib/odoo/filestore/{Name}/a7 && printf 'invoice scan' > /var/lib/odoo/filestore/{Name}/a7/a7e2 && chown odoo:odoo /var/lib/odoo/filestore/{Name}/a7/a7e2");
        Assert.True(file.ExitCode == 0, file.Describe());

        var started = await LiveFleet.FleetJsonAsync("tenant", "move", Name, "--to", To);
        Assert.True(started.GetProperty("started").GetBoolean(), started.ToString());
        var moveId = started.GetProperty("id").GetString()!;
        Assert.Equal(From, started.GetProperty("from").GetString());
        Assert.Equal(To, started.GetProperty("to").GetString());
        var again = await LiveFleet.FleetJsonAsync("tenant", "move", Name, "--to", To);
        Assert.False(again.GetProperty("started").GetBoolean(), again.ToString());
        Assert.Equal(moveId, again.GetProperty("id").GetString());

        // The archive is on the controllers and the target restores it: kill the controller the CLI calls first.
        var importing = await Eventually.UntilAsync(
            async () => (JsonElement?)await ShowAsync(),
            t => t is { } s && StepOf(s) is "importing" or "switched" or "done" or "rolling-back" or "rolled-back",
            ConvergeDeadline, $"{Name} exported") ?? throw new InvalidOperationException(Name);
        Assert.Equal("importing", StepOf(importing));
        var killedAt = importing.GetProperty("lastMove");
        Assert.True(killedAt.GetProperty("archiveBytes").GetInt64() > 0, killedAt.ToString());
        Assert.Matches("^[0-9a-f]{64}$", killedAt.GetProperty("archiveSha256").GetString());
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(1), "controller", "kill", "1");
        try
        {
            var finished = await Eventually.UntilAsync(
                async () => (JsonElement?)await ShowAsync(),
                t => t is { } s && StepOf(s) is "done" or "rolled-back",
                ConvergeDeadline, $"{Name} moved or rolled back") ?? throw new InvalidOperationException(Name);
            Assert.True(StepOf(finished) == "done", finished.ToString());
            Assert.Equal(moveId, finished.GetProperty("lastMove").GetProperty("id").GetString());
            Assert.Equal(To, finished.GetProperty("hostName").GetString());
            Assert.Equal("active", finished.GetProperty("state").GetString());
        }
        finally
        {
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "controller", "start", "1");
        }

        // On the target: every row and the file, owned by the odoo role.
        Assert.Equal("501", await SqlAsync(To, Name, "SELECT count(*) FROM res_partner"));
        Assert.Equal("1", await SqlAsync(To, Name, "SELECT count(*) FROM res_partner WHERE name = 'Written before the move'"));
        Assert.Equal("odoo", await SqlAsync(To, "postgres", $"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{Name}'"));
        Assert.Equal("0", await SqlAsync(To, "postgres", "SELECT count(*) FROM pg_database WHERE datname LIKE 'sm-move_%'"));
        var moved = await LiveFleet.OnHostAsync(To, "sh", "-c", $"cat /var/lib/odoo/filestore/{Name}/a7/a7e2 && stat -c ' %U' /var/lib/odoo/filestore/{Name}/a7/a7e2");
        Assert.True(moved.ExitCode == 0, moved.Describe());
        Assert.Equal("invoice scan odoo", moved.Stdout.Trim());

        // Served by the target's nginx with the tenant's own certificate, on its own database.
        var caDir = Directory.CreateTempSubdirectory("odoofleet-move-");
        try
        {
            var cert = await LiveFleet.OnHostAsync(To, "cat", $"/etc/ssl/odoofleet/tenant-{Name}.crt");
            Assert.True(cert.ExitCode == 0, cert.Describe());
            var ca = Path.Combine(caDir.FullName, "tenant.pem");
            await File.WriteAllTextAsync(ca, cert.Stdout, ct);
            var login = await Proc.RunAsync(
                "curl", ["-sS", "--max-time", "20", "--cacert", ca, "--resolve", $"{Domain}:443:{AddressOf(To)}", $"https://{Domain}/web/login"],
                TimeSpan.FromSeconds(40));
            Assert.True(login.ExitCode == 0, login.Describe());
            Assert.Contains($"<span class='db'>{Name}</span>", login.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            caDir.Delete(recursive: true);
        }

        // The source archived its copy, then removed database, filestore, site and certificate.
        Assert.Equal("0", await SqlAsync(From, "postgres", $"SELECT count(*) FROM pg_database WHERE datname LIKE 'sm-%'"));
        var gone = await LiveFleet.OnHostAsync(From, "sh", "-c",
            $"ls -d /var/lib/odoo/filestore/{Name} /etc/nginx/sites-enabled/*{Name}* /etc/ssl/odoofleet/tenant-{Name}.crt 2>/dev/null | wc -l; ls /var/lib/odoofleet/tenant-archive | grep -c '^{Name}'");
        var counts = gone.Stdout.Trim().Split('\n').Select(l => int.Parse(l.Trim(), CultureInfo.InvariantCulture)).ToArray();
        Assert.True(counts is [0, >= 1], $"site files left on {From}: {counts[0]} (want 0); archives of {Name}: {counts[^1]} (want at least 1): {gone.Describe()}");
    }
}
