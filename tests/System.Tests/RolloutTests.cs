using System.Globalization;
using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// `fleet rollout` against real controllers, broker, database and test hosts with Odoo databases
/// on them: canary and batches, a migration that breaks health (reverted: code and database),
/// max-failures, pause/resume/abort, rollback, and a controller killed mid-batch. Every test starts
/// from the fleet at the fixture's 18.0 head and asserts the final state of every host and database.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class RolloutTests(LiveFleet stack, ITestOutputHelper output)
{
    private static readonly TimeSpan RolloutDeadline = TimeSpan.FromMinutes(10);

    /// <summary>Odoo databases the tests create: every host has "acme", the first host also "globex".</summary>
    private static readonly string[] FirstHostDatabases = ["acme", "globex"];

    private static readonly string[] OtherHostDatabases = ["acme"];

    private const string Marker = "/etc/odoo-fixture-unhealthy";

    [Fact]
    public async Task Rollout_CanaryThenTwoBatches_EveryHostUpdatedOnceWithChangedModulesOnly()
    {
        await BaselineAsync();
        var before = await StateAsync();
        var commit = await FixtureCommitAsync("--bump", "web");
        await using var probes = await AvailabilityProbes.StartAsync(LiveFleet.HostNames);

        var rollout = await FleetOkAsync("rollout", "--version", "18.0", "--canary", "1", "--batch", "50%", "--min-healthy", "3s", "--wait");

        var unavailable = await probes.StopAsync();
        Assert.Equal("succeeded", Str(rollout, "state"));
        Assert.Equal(commit, rollout.GetProperty("release").GetProperty("commit").GetString());
        var batches = rollout.GetProperty("batches").EnumerateArray().ToList();
        Assert.Equal(3, batches.Count);
        Assert.True(batches[0].GetProperty("canary").GetBoolean());
        Assert.Equal([1, 2, 1], batches.Select(b => b.GetProperty("hosts").GetInt32()));
        var measured = new List<string>();
        foreach (var h in rollout.GetProperty("hosts").EnumerateArray())
        {
            var name = Str(h, "name");
            Assert.Equal("succeeded", Str(h, "state"));
            var modules = h.GetProperty("updatedModules").EnumerateArray().Select(m => m.GetString()).Order().ToList();
            Assert.Equal(DatabasesOf(name).Select(db => $"{db}:web").Order(), modules);
            measured.Add(string.Create(CultureInfo.InvariantCulture,
                $"{name}: agent-measured unavailability {h.GetProperty("unavailableMs").GetInt64()} ms, probe-measured (/web/health every 100 ms) {unavailable[name].TotalMilliseconds:0} ms, databases {string.Join(',', DatabasesOf(name))}"));
        }

        // Kept beside the test results: the per-host unavailability of a successful update.
        foreach (var line in measured)
        {
            output.WriteLine(line);
        }

        var results = Path.Combine(LiveFleet.RepoRoot, "artifacts", "test-results");
        Directory.CreateDirectory(results);
        await File.WriteAllLinesAsync(Path.Combine(results, "rollout-unavailability.txt"), measured, TestContext.Current.CancellationToken);

        var after = await StateAsync();
        foreach (var name in LiveFleet.HostNames)
        {
            Assert.Equal($"/opt/odoo/releases/18.0-{commit}", after[name].Release);
            Assert.True(after[name].OdooPid != before[name].OdooPid, $"{name}: Odoo was not restarted");
            Assert.Equal(1, await OdooStartsSinceAsync(name, before[name].LogLines));
            foreach (var db in DatabasesOf(name))
            {
                // web was bumped and updated; base was not touched.
                Assert.Equal(Bump(before[name].Modules[$"{db}:web"]), after[name].Modules[$"{db}:web"]);
                Assert.Equal(before[name].Modules[$"{db}:base"], after[name].Modules[$"{db}:base"]);
            }
        }

        await AssertHealthyAsync(LiveFleet.HostNames);
        await AssertEventsAsync(Str(rollout, "id"), "RolloutStarted", "RolloutBatchStarted", "RolloutStepSucceeded", "RolloutCompleted");

        // The same rollout again: nothing to do, nothing restarted.
        var again = await FleetOkAsync("rollout", "--version", "18.0", "--canary", "1", "--batch", "50%", "--min-healthy", "3s", "--wait");
        Assert.Equal("succeeded", Str(again, "state"));
        Assert.All(again.GetProperty("hosts").EnumerateArray(), h => Assert.Equal("unchanged", Str(h, "state")));
        Assert.Equal(after.Select(kv => kv.Value.Fingerprint), (await StateAsync()).Select(kv => kv.Value.Fingerprint));
    }

    [Fact]
    public async Task Rollout_MigrationThenUnhealthy_CanaryRevertedWithDatabaseRestoredRestUntouched()
    {
        await BaselineAsync();
        var before = await StateAsync();
        var canary = LiveFleet.HostNames[0];
        await FixtureCommitAsync("--bump", "web", "--unhealthy");
        try
        {
            var (exit, rollout) = await FleetAsync(
                "rollout", "--version", "18.0", "--canary", "1", "--batch", "50%", "--health-timeout", "40s", "--min-healthy", "3s", "--wait");

            Assert.NotEqual(0, exit);
            Assert.Equal("failed", Str(rollout, "state"));
            var hosts = rollout.GetProperty("hosts").EnumerateArray().ToDictionary(h => Str(h, "name"));
            Assert.Equal("reverted", Str(hosts[canary], "state"));
            Assert.Contains("health", Str(hosts[canary], "message"), StringComparison.OrdinalIgnoreCase);
            Assert.False(string.IsNullOrWhiteSpace(Str(hosts[canary], "logTail")));
            Assert.All(LiveFleet.HostNames.Skip(1), n => Assert.Equal("cancelled", Str(hosts[n], "state")));

            var after = await StateAsync();
            // The canary: old code back, the migration's change gone from every database, serving.
            Assert.Equal(before[canary].Release, after[canary].Release);
            Assert.Equal(before[canary].Modules, after[canary].Modules);
            // Everyone else: not touched at all (same code, same Odoo process, same spec generation).
            foreach (var name in LiveFleet.HostNames.Skip(1))
            {
                Assert.Equal(before[name].Fingerprint, after[name].Fingerprint);
            }

            await AssertHealthyAsync(LiveFleet.HostNames);
            await AssertEventsAsync(Str(rollout, "id"), "RolloutStepReverted", "RolloutCompleted");
        }
        finally
        {
            // The branch head must be healthy again for the next test.
            await FixtureCommitAsync("--healthy");
        }
    }

    [Fact]
    public async Task Rollout_MaxFailuresOneWithTwoBadHostsOfFour_SecondFailureStopsTheRollout()
    {
        await BaselineAsync();
        var before = await StateAsync();
        string[] bad = [LiveFleet.HostNames[1], LiveFleet.HostNames[2]];
        var last = LiveFleet.HostNames[3];
        foreach (var h in bad)
        {
            await LiveFleet.OnHostAsync(h, "touch", Marker);
        }

        try
        {
            var commit = await FixtureCommitAsync("--bump", "web", "--unhealthy-where-marked");
            var (exit, rollout) = await FleetAsync(
                "rollout", "--version", "18.0", "--batch", "1", "--max-failures", "1", "--health-timeout", "40s", "--min-healthy", "3s", "--wait");

            Assert.NotEqual(0, exit);
            Assert.Equal("failed", Str(rollout, "state"));
            var hosts = rollout.GetProperty("hosts").EnumerateArray().ToDictionary(h => Str(h, "name"));
            Assert.Equal("succeeded", Str(hosts[LiveFleet.HostNames[0]], "state"));
            Assert.All(bad, h => Assert.Equal("reverted", Str(hosts[h], "state")));
            Assert.Equal("cancelled", Str(hosts[last], "state"));

            var after = await StateAsync();
            Assert.Equal($"/opt/odoo/releases/18.0-{commit}", after[LiveFleet.HostNames[0]].Release);
            foreach (var h in bad)
            {
                Assert.Equal(before[h].Release, after[h].Release);
                Assert.Equal(before[h].Modules, after[h].Modules);
            }

            Assert.Equal(before[last].Fingerprint, after[last].Fingerprint);
            await AssertHealthyAsync(LiveFleet.HostNames);
        }
        finally
        {
            foreach (var h in bad)
            {
                await LiveFleet.OnHostAsync(h, "rm", "-f", Marker);
            }
        }
    }

    [Fact]
    public async Task Rollout_PauseAfterCanaryThenResume_FinishesAndAbortLeavesTheRestUntouched()
    {
        await BaselineAsync();

        // Pause after the canary, then resume: everyone ends on the new commit.
        var commit = await FixtureCommitAsync("--bump", "base");
        var started = await FleetOkAsync("rollout", "--version", "18.0", "--canary", "1", "--batch", "100%", "--pause-after-canary", "--min-healthy", "2s");
        var id = Str(started, "id");
        var paused = await UntilStateAsync(id, "paused");
        Assert.Equal("succeeded", Str(paused.GetProperty("hosts").EnumerateArray().Single(h => Str(h, "name") == LiveFleet.HostNames[0]), "state"));
        Assert.All(paused.GetProperty("hosts").EnumerateArray().Where(h => Str(h, "name") != LiveFleet.HostNames[0]), h => Assert.Equal("pending", Str(h, "state")));
        await FleetOkAsync("rollout", "resume", id);
        var done = await FleetOkAsync("rollout", "status", id, "--watch");
        Assert.Equal("succeeded", Str(done, "state"));
        Assert.All((await StateAsync()).Values, s => Assert.Equal($"/opt/odoo/releases/18.0-{commit}", s.Release));
        await AssertEventsAsync(id, "RolloutPaused", "RolloutResumed", "RolloutCompleted");

        // Pause after the canary, then abort: the rest never moves.
        var before = await StateAsync();
        var next = await FixtureCommitAsync("--bump", "web");
        var second = Str(await FleetOkAsync("rollout", "--version", "18.0", "--canary", "1", "--pause-after-canary", "--min-healthy", "2s"), "id");
        await UntilStateAsync(second, "paused");
        var aborted = await FleetOkAsync("rollout", "abort", second);
        Assert.Equal("aborted", Str(aborted, "state"));
        var after = await StateAsync();
        Assert.Equal($"/opt/odoo/releases/18.0-{next}", after[LiveFleet.HostNames[0]].Release);
        foreach (var name in LiveFleet.HostNames.Skip(1))
        {
            Assert.Equal(before[name].Fingerprint, after[name].Fingerprint);
        }

        Assert.All(
            aborted.GetProperty("hosts").EnumerateArray().Where(h => Str(h, "name") != LiveFleet.HostNames[0]),
            h => Assert.Equal("cancelled", Str(h, "state")));
        await AssertEventsAsync(second, "RolloutAborted");
    }

    [Fact]
    public async Task Rollback_CompletedRollout_EveryHostBackOnItsPreviousCommit()
    {
        await BaselineAsync();
        var before = await StateAsync();
        var commit = await FixtureCommitAsync("--bump", "web");
        var rollout = await FleetOkAsync("rollout", "--version", "18.0", "--batch", "100%", "--min-healthy", "2s", "--wait");
        Assert.Equal("succeeded", Str(rollout, "state"));
        Assert.All((await StateAsync()).Values, s => Assert.Equal($"/opt/odoo/releases/18.0-{commit}", s.Release));

        var back = await FleetOkAsync("rollout", "rollback", Str(rollout, "id"), "--wait");

        Assert.Equal("succeeded", Str(back, "state"));
        Assert.Equal(Str(rollout, "id"), Str(back, "rollbackOf"));
        var after = await StateAsync();
        foreach (var name in LiveFleet.HostNames)
        {
            Assert.Equal(before[name].Release, after[name].Release);
        }

        await AssertHealthyAsync(LiveFleet.HostNames);

        // Leave the branch head and the fleet in step for the next test.
        await FixtureCommitAsync();
    }

    [Fact]
    public async Task Rollout_OwningControllerKilledMidBatch_FinishesAndUpdatesEachHostOnce()
    {
        await BaselineAsync();
        var commit = await FixtureCommitAsync("--bump", "base");
        var started = await FleetOkAsync("rollout", "--version", "18.0", "--batch", "2", "--min-healthy", "3s");
        var id = Str(started, "id");
        try
        {
            // In the middle of the first batch: a host is updating.
            await Eventually.UntilAsync(
                () => LiveFleet.FleetJsonAsync("rollout", "status", id),
                r => r.GetProperty("hosts").EnumerateArray().Any(h => Str(h, "state") == "updating"),
                TimeSpan.FromMinutes(3),
                "a host updating");

            // The CLI's first controller received the call and owns the rollout grain (local placement).
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(1), "controller", "kill", "1");

            var done = await FleetOkAsync("rollout", "status", id, "--watch");
            Assert.Equal("succeeded", Str(done, "state"));
            Assert.All((await StateAsync()).Values, s => Assert.Equal($"/opt/odoo/releases/18.0-{commit}", s.Release));
            await AssertEachHostDispatchedOnceAsync(id);
            await AssertHealthyAsync(LiveFleet.HostNames);
        }
        finally
        {
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "controller", "start", "1");
        }
    }

    [Fact]
    public async Task Rollout_BrokerRestartedMidRollout_NothingLost()
    {
        await BaselineAsync();
        var commit = await FixtureCommitAsync();

        var started = await FleetOkAsync("rollout", "--version", "18.0", "--batch", "100%", "--min-healthy", "2s");
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "broker", "restart");
        var done = await FleetOkAsync("rollout", "status", Str(started, "id"), "--watch");

        Assert.Equal("succeeded", Str(done, "state"));
        Assert.All((await StateAsync()).Values, s => Assert.Equal($"/opt/odoo/releases/18.0-{commit}", s.Release));
        await AssertEachHostDispatchedOnceAsync(Str(started, "id"));
    }

    [Fact]
    public async Task Rollout_BrokerDownWhenStarted_DeliveredOnceBrokerReturns()
    {
        await BaselineAsync();
        var commit = await FixtureCommitAsync();
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(2), "broker", "stop");
        string id;
        try
        {
            var started = await FleetOkAsync("rollout", "--version", "18.0", "--batch", "100%", "--min-healthy", "2s");
            id = Str(started, "id");
            Assert.Equal("running", Str(started, "state"));
        }
        finally
        {
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "broker", "start");
        }

        var done = await FleetOkAsync("rollout", "status", id, "--watch");
        Assert.Equal("succeeded", Str(done, "state"));
        Assert.All((await StateAsync()).Values, s => Assert.Equal($"/opt/odoo/releases/18.0-{commit}", s.Release));
        await AssertEachHostDispatchedOnceAsync(id);
    }

    [Fact]
    public async Task Rollout_DryRun_PrintsThePlanAndChangesNothing()
    {
        await BaselineAsync();
        var before = await StateAsync();
        await FixtureCommitAsync("--bump", "web");

        var plan = await FleetOkAsync("rollout", "--version", "18.0", "--canary", "1", "--batch", "2", "--dry-run");

        Assert.Equal("planned", Str(plan, "state"));
        Assert.Equal([1, 2, 1], plan.GetProperty("batches").EnumerateArray().Select(b => b.GetProperty("hosts").GetInt32()));
        var after = await StateAsync();
        Assert.Equal(before.Select(kv => kv.Value.Fingerprint), after.Select(kv => kv.Value.Fingerprint));
        var listed = await LiveFleet.FleetJsonAsync("rollouts");
        Assert.DoesNotContain(listed.EnumerateArray(), r => Str(r, "state") == "planned");
    }

    // ------------------------------------------------------------------ helpers

    private static string[] DatabasesOf(string host) => host == LiveFleet.HostNames[0] ? FirstHostDatabases : OtherHostDatabases;

    private static string Str(JsonElement e, string property) =>
        e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    /// <summary>"18.0.1.3" -> "18.0.1.4", as the fixture's --bump does.</summary>
    private static string Bump(string version)
    {
        var dot = version.LastIndexOf('.');
        return $"{version[..dot]}.{int.Parse(version[(dot + 1)..], CultureInfo.InvariantCulture) + 1}";
    }

    private static async Task<string> FixtureCommitAsync(params string[] options)
    {
        var r = await Proc.CheckedAsync(
            "bash", [Path.Combine(LiveFleet.RepoRoot, "tests/fixture/make-fixture-odoo.sh"), "commit", LiveFleet.FixtureDir, "18.0", .. options], TimeSpan.FromMinutes(1));
        return r.Stdout.Trim().Split('\n')[^1].Trim();
    }

    private static async Task<(int Exit, JsonElement Json)> FleetAsync(params string[] args)
    {
        var r = await Proc.RunAsync("/usr/local/bin/fleet", [.. args, "-o", "json"], RolloutDeadline);
        if (r.Stdout.Trim().Length == 0)
        {
            throw new InvalidOperationException($"fleet {string.Join(' ', args)} printed no JSON: {r.Describe()}");
        }

        using var doc = JsonDocument.Parse(r.Stdout);
        return (r.ExitCode, doc.RootElement.Clone());
    }

    private static async Task<JsonElement> FleetOkAsync(params string[] args)
    {
        var r = await Proc.RunAsync("/usr/local/bin/fleet", [.. args, "-o", "json"], RolloutDeadline);
        Assert.True(r.ExitCode == 0, $"fleet {string.Join(' ', args)}: {r.Describe()}");
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.Clone();
    }

    private static Task<JsonElement> UntilStateAsync(string id, string state) =>
        Eventually.UntilAsync(
            () => LiveFleet.FleetJsonAsync("rollout", "status", id),
            r => Str(r, "state") == state,
            TimeSpan.FromMinutes(5),
            $"rollout {id} {state}");

    /// <summary>
    /// The fleet at the branch head, every host with its Odoo databases (made with the fixture's
    /// odoo-bin -i, as a tenant would be) and nothing marked unhealthy.
    /// </summary>
    private static async Task BaselineAsync()
    {
        foreach (var h in LiveFleet.HostNames)
        {
            await LiveFleet.OnHostAsync(h, "rm", "-f", Marker);
        }

        var r = await FleetOkAsync("rollout", "--version", "18.0", "--batch", "100%", "--max-failures", "0", "--min-healthy", "2s", "--wait");
        Assert.Equal("succeeded", Str(r, "state"));
        foreach (var h in LiveFleet.HostNames)
        {
            foreach (var db in DatabasesOf(h))
            {
                var exists = await OnHostOkAsync(h, "runuser", "-u", "postgres", "--", "psql", "-tAc", $"SELECT count(*) FROM pg_database WHERE datname = '{db}'");
                if (exists.Trim() == "0")
                {
                    await OnHostOkAsync(h, "runuser", "-u", "odoo", "--", "createdb", db);
                    await OnHostOkAsync(h, "runuser", "-u", "odoo", "--", "/opt/odoo/current/.venv/bin/python", "/opt/odoo/current/odoo-bin",
                        "-c", "/etc/odoo.conf", "-d", db, "-i", "base,web", "--stop-after-init");
                }
            }
        }
    }

    private static async Task<string> OnHostOkAsync(string host, params string[] command)
    {
        var r = await LiveFleet.OnHostAsync(host, command);
        Assert.True(r.ExitCode == 0, $"{host}: {string.Join(' ', command)}: {r.Describe()}");
        return r.Stdout;
    }

    private sealed record HostState(string Release, string OdooPid, long Generation, IReadOnlyDictionary<string, string> Modules, int LogLines)
    {
        public string Fingerprint => $"{Release}|{OdooPid}|{Generation}|{string.Join(',', Modules.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={kv.Value}"))}";
    }

    /// <summary>Per host: the release `current` points at, Odoo's main PID, the desired generation and every database's module versions.</summary>
    private static async Task<SortedDictionary<string, HostState>> StateAsync()
    {
        var generations = (await LiveFleet.FleetJsonAsync("hosts")).EnumerateArray()
            .ToDictionary(h => Str(h, "name"), h => h.GetProperty("desiredGeneration").GetInt64());
        var states = new SortedDictionary<string, HostState>(StringComparer.Ordinal);
        foreach (var name in LiveFleet.HostNames)
        {
            var release = (await OnHostOkAsync(name, "readlink", "/opt/odoo/current")).Trim();
            var pid = (await OnHostOkAsync(name, "systemctl", "show", "-p", "MainPID", "--value", "odoo.service")).Trim();
            var modules = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var db in DatabasesOf(name))
            {
                var rows = await OnHostOkAsync(name, "runuser", "-u", "postgres", "--", "psql", "-d", db, "-tAF", "=", "-c",
                    "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed' ORDER BY name");
                foreach (var row in rows.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var eq = row.IndexOf('=', StringComparison.Ordinal);
                    modules[$"{db}:{row[..eq]}"] = row[(eq + 1)..];
                }
            }

            var lines = int.Parse((await OnHostOkAsync(name, "sh", "-c", "wc -l < /var/log/odoo/odoo.log")).Trim(), CultureInfo.InvariantCulture);
            states[name] = new HostState(release, pid, generations[name], modules, lines);
        }

        return states;
    }

    /// <summary>How many times Odoo's server started (its "Odoo version" banner, not -u runs) since the log had that many lines.</summary>
    private static async Task<int> OdooStartsSinceAsync(string host, int lines)
    {
        var text = await OnHostOkAsync(host, "sh", "-c", $"tail -n +{lines + 1} /var/log/odoo/odoo.log");
        return text.Split('\n').Count(l => l.Contains("HTTP service (werkzeug) running", StringComparison.Ordinal));
    }

    private static async Task AssertHealthyAsync(IEnumerable<string> hosts)
    {
        foreach (var name in hosts)
        {
            Assert.Equal("active", (await LiveFleet.OnHostAsync(name, "systemctl", "is-active", "odoo.service")).Stdout.Trim());
            var health = await Eventually.UntilAsync<ProcResult>(
                async () => await LiveFleet.OnHostAsync(name, "curl", "-sf", "--max-time", "5", "http://127.0.0.1:8069/web/health"),
                r => r is { ExitCode: 0 },
                TimeSpan.FromSeconds(30),
                $"{name} /web/health");
            Assert.Contains("pass", health.Stdout, StringComparison.Ordinal);
        }
    }

    private async Task AssertEventsAsync(string rolloutId, params string[] types)
    {
        await using var cmd = stack.Db.CreateCommand("SELECT DISTINCT type FROM events WHERE subject = $1");
        cmd.Parameters.AddWithValue(rolloutId);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                seen.Add(reader.GetString(0));
            }
        }

        Assert.All(types, t => Assert.Contains(t, seen));
        var listed = await LiveFleet.FleetJsonAsync("events", "--subject", rolloutId, "--since", "1h");
        Assert.All(types, t => Assert.Contains(listed.EnumerateArray(), e => Str(e, "type") == t));
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

    /// <summary>
    /// A sampler on each host (curl of /web/health every 100 ms, bounded to 10 minutes) whose
    /// failed samples give how long Odoo did not serve, measured from outside the agent.
    /// </summary>
    private sealed class AvailabilityProbes : IAsyncDisposable
    {
        private const string Log = "/run/odoofleet-probe.log";
        private const string Unit = "odoofleet-probe";
        private readonly string[] hosts;
        private bool stopped;

        private AvailabilityProbes(string[] hosts) => this.hosts = hosts;

        public static async Task<AvailabilityProbes> StartAsync(string[] hosts)
        {
            foreach (var h in hosts)
            {
                await LiveFleet.OnHostAsync(h, "systemctl", "stop", Unit);
                await LiveFleet.OnHostAsync(h, "rm", "-f", Log);
                await OnHostOkAsync(h, "systemd-run", "--unit", Unit, "--collect", "timeout", "600", "sh", "-c",
                    $"while :; do printf '%s %s\\n' \"$(date +%s%3N)\" \"$(curl -s -o /dev/null -w '%{{http_code}}' --max-time 1 http://127.0.0.1:8069/web/health)\" >> {Log}; sleep 0.1; done");
            }

            return new AvailabilityProbes(hosts);
        }

        /// <summary>Per host: the sum of the intervals that began with a failed sample.</summary>
        public async Task<Dictionary<string, TimeSpan>> StopAsync()
        {
            stopped = true;
            var result = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
            foreach (var h in hosts)
            {
                await LiveFleet.OnHostAsync(h, "systemctl", "stop", Unit);
                var samples = (await OnHostOkAsync(h, "cat", Log)).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                    .Select(l => l.Split(' '))
                    .Where(p => p.Length == 2 && long.TryParse(p[0], CultureInfo.InvariantCulture, out _))
                    .Select(p => (At: long.Parse(p[0], CultureInfo.InvariantCulture), Ok: p[1] == "200"))
                    .ToList();
                long down = 0;
                for (var i = 0; i + 1 < samples.Count; i++)
                {
                    if (!samples[i].Ok)
                    {
                        down += samples[i + 1].At - samples[i].At;
                    }
                }

                result[h] = TimeSpan.FromMilliseconds(down);
            }

            return result;
        }

        public async ValueTask DisposeAsync()
        {
            if (!stopped)
            {
                foreach (var h in hosts)
                {
                    await LiveFleet.OnHostAsync(h, "systemctl", "stop", Unit);
                }
            }
        }
    }
}
