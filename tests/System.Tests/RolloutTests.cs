using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>`fleet rollout --version 18.0` against real controllers, broker, database and test hosts.</summary>
[Collection(StackGroup.Name)]
public sealed class RolloutTests(LiveFleet stack)
{
    private static readonly TimeSpan RolloutDeadline = TimeSpan.FromMinutes(8);

    [Fact]
    public async Task Rollout_Version18_EveryHostRunsResolvedCommitAndIsHealthy()
    {
        var head = await LiveFleet.HeadOf18Async();

        var rollout = await WaitForRolloutAsync("rollout", "--version", "18.0", "--wait");

        Assert.Equal("succeeded", rollout.GetProperty("state").GetString());
        Assert.Equal(head, rollout.GetProperty("release").GetProperty("commit").GetString());
        Assert.Equal(LiveFleet.HostNames.Length, rollout.GetProperty("hosts").GetArrayLength());
        await AssertFleetRunsAsync(head);
    }

    [Fact]
    public async Task Rollout_SameCommitTwice_SecondChangesNothing()
    {
        var head = await LiveFleet.HeadOf18Async();
        await WaitForRolloutAsync("rollout", "--version", "18.0", "--wait");
        var before = await SnapshotAsync();

        var second = await WaitForRolloutAsync("rollout", "--version", "18.0", "--wait");

        Assert.Equal("succeeded", second.GetProperty("state").GetString());
        Assert.All(second.GetProperty("hosts").EnumerateArray(), h => Assert.Equal("unchanged", h.GetProperty("state").GetString()));
        var after = await SnapshotAsync();
        Assert.Equal(before, after);
        await AssertFleetRunsAsync(head);
    }

    [Fact]
    public async Task Rollout_OwningControllerKilledMidRollout_StillSucceedsAndUpdatesEachHostOnce()
    {
        var commit = await LiveFleet.NewFixtureCommitAsync();
        try
        {
            var started = await LiveFleet.FleetJsonAsync("rollout", "--version", "18.0");
            var id = started.GetProperty("id").GetString()!;
            Assert.Equal(commit, started.GetProperty("release").GetProperty("commit").GetString());

            // The CLI's first controller received the call and owns the rollout grain (local placement).
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(1), "controller", "kill", "1");

            var done = await WaitForRolloutAsync("rollout", "status", id, "--watch");
            Assert.Equal("succeeded", done.GetProperty("state").GetString());
            await AssertFleetRunsAsync(commit);
            await AssertEachHostDispatchedOnceAsync(id);
        }
        finally
        {
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "controller", "start", "1");
        }
    }

    [Fact]
    public async Task Rollout_BrokerRestartedMidRollout_NothingLost()
    {
        var commit = await LiveFleet.NewFixtureCommitAsync();

        var started = await LiveFleet.FleetJsonAsync("rollout", "--version", "18.0");
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "broker", "restart");
        var done = await WaitForRolloutAsync("rollout", "status", started.GetProperty("id").GetString()!, "--watch");

        Assert.Equal("succeeded", done.GetProperty("state").GetString());
        await AssertFleetRunsAsync(commit);
    }

    [Fact]
    public async Task Rollout_BrokerDownWhenStarted_DeliveredOnceBrokerReturns()
    {
        var commit = await LiveFleet.NewFixtureCommitAsync();
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(2), "broker", "stop");
        string id;
        try
        {
            var started = await LiveFleet.FleetJsonAsync("rollout", "--version", "18.0");
            id = started.GetProperty("id").GetString()!;
            Assert.Equal("running", started.GetProperty("state").GetString());
        }
        finally
        {
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "broker", "start");
        }

        var done = await WaitForRolloutAsync("rollout", "status", id, "--watch");
        Assert.Equal("succeeded", done.GetProperty("state").GetString());
        await AssertFleetRunsAsync(commit);
        await AssertEachHostDispatchedOnceAsync(id);
    }

    private static async Task<JsonElement> WaitForRolloutAsync(params string[] args)
    {
        var r = await Proc.RunAsync("/usr/local/bin/fleet", [.. args, "-o", "json"], RolloutDeadline);
        Assert.True(r.ExitCode == 0, $"fleet {string.Join(' ', args)}: {r.Describe()}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.Clone();
    }

    /// <summary>Every host: online, at the commit per the controller, and for real inside the machine.</summary>
    private static async Task AssertFleetRunsAsync(string commit)
    {
        var hosts = await LiveFleet.FleetJsonAsync("hosts");
        Assert.Equal(LiveFleet.HostNames.Length, hosts.GetArrayLength());
        foreach (var h in hosts.EnumerateArray())
        {
            var name = h.GetProperty("name").GetString()!;
            Assert.Equal("online", h.GetProperty("state").GetString());
            Assert.Equal(commit, h.GetProperty("odoo").GetProperty("commit").GetString());
            Assert.Equal(h.GetProperty("desiredGeneration").GetInt64(), h.GetProperty("appliedGeneration").GetInt64());

            Assert.Equal("active", (await LiveFleet.OnHostAsync(name, "systemctl", "is-active", "odoo.service")).Stdout.Trim());
            Assert.Equal($"/opt/odoo/releases/18.0-{commit}", (await LiveFleet.OnHostAsync(name, "readlink", "/opt/odoo/current")).Stdout.Trim());
            Assert.Equal(commit, (await LiveFleet.OnHostAsync(name, "git", "-C", "/opt/odoo/current", "rev-parse", "HEAD")).Stdout.Trim());
            var health = await LiveFleet.OnHostAsync(name, "curl", "-sf", "--max-time", "5", "http://127.0.0.1:8069/web/health");
            Assert.True(health.ExitCode == 0 && health.Stdout.Contains("pass", StringComparison.Ordinal), $"{name} /web/health: {health.Describe()}");
        }
    }

    /// <summary>The spec of each host changed exactly once for this rollout: no host was updated twice.</summary>
    private async Task AssertEachHostDispatchedOnceAsync(string rolloutId)
    {
        await using var cmd = stack.Db.CreateCommand(
            "SELECT subject, count(*) FROM events WHERE type = 'HostSpecChanged' AND data->>'cause' = $1 GROUP BY subject");
        cmd.Parameters.AddWithValue($"rollout {rolloutId}");
        var counts = new Dictionary<string, long>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        Assert.Equal(LiveFleet.HostNames.Length, counts.Count);
        Assert.All(counts.Values, c => Assert.Equal(1, c));
    }

    /// <summary>Per host: generations, and odoo.service's main PID (a restart would change it).</summary>
    private static async Task<string> SnapshotAsync()
    {
        var parts = new List<string>();
        foreach (var h in (await LiveFleet.FleetJsonAsync("hosts")).EnumerateArray())
        {
            var name = h.GetProperty("name").GetString()!;
            var pid = (await LiveFleet.OnHostAsync(name, "systemctl", "show", "-p", "MainPID", "--value", "odoo.service")).Stdout.Trim();
            parts.Add($"{name}:{h.GetProperty("desiredGeneration").GetInt64()}/{h.GetProperty("appliedGeneration").GetInt64()}:{pid}");
        }

        return string.Join(',', parts);
    }
}
