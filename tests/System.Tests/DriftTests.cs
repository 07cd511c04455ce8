using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// Drift on an enrolled test host (th2), put back by its agent within seconds (file and unit watches)
/// or within one re-observe period (30 s here), or only reported, per the host's policy; every drift is
/// a record `fleet drift` shows and exactly one domain event (events table, the outbox) named by what
/// the agent did. Each test leaves th2 as it found it.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class DriftTests(LiveFleet stack, DriftPolicyOnTh2 policy) : IClassFixture<DriftPolicyOnTh2>
{
    private const string Host = DriftPolicyOnTh2.Host;
    private const string Jail = "/etc/fail2ban/jail.d/odoofleet.conf";
    private static readonly TimeSpan WatchDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PeriodicDeadline = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task ConfigFileHandEdit_PutBackAndRecordedWithDiff()
    {
        // Each test drifts its own resource: three corrections of one resource in ten minutes are flapping.
        const string Logrotate = "/etc/logrotate.d/odoo";
        _ = policy;
        var before = await ReadAsync(Logrotate);
        var since = DateTimeOffset.UtcNow;
        await OnHostAsync("sh", "-c", $"echo '# hand edit' >> {Logrotate}");

        await Eventually.UntilAsync(() => ReadAsync(Logrotate), text => text == before, WatchDeadline, "the logrotate file put back");
        var record = await RecordAsync($"file:{Logrotate}", "corrected", since);
        Assert.Contains("# hand edit", record.GetProperty("diff").GetString(), StringComparison.Ordinal);
        Assert.Equal("file", record.GetProperty("trigger").GetString());
    }

    [Fact]
    public async Task JailRemoved_RestoredAndRecorded()
    {
        var before = await ReadAsync(Jail);
        var since = DateTimeOffset.UtcNow;
        await OnHostAsync("rm", "-f", Jail);

        await Eventually.UntilAsync(() => ReadAsync(Jail), text => text == before, WatchDeadline, "the jail file restored");
        await RecordAsync($"file:{Jail}", "corrected", since);
    }

    [Fact]
    public async Task ConfigFileModeChanged_PutBack()
    {
        const string AutoUpgrades = "/etc/apt/apt.conf.d/20auto-upgrades";
        var since = DateTimeOffset.UtcNow;
        var mode = (await OnHostAsync("stat", "-c", "%a", AutoUpgrades)).Stdout.Trim();
        await OnHostAsync("chmod", "0666", AutoUpgrades);

        await Eventually.UntilAsync(async () => (await OnHostAsync("stat", "-c", "%a", AutoUpgrades)).Stdout.Trim(), m => m == mode, PeriodicDeadline, "the file's mode put back");
        await RecordAsync($"file:{AutoUpgrades}", "corrected", since);
    }

    [Fact]
    public async Task NginxStopped_StartedAgainAndRecorded()
    {
        var since = DateTimeOffset.UtcNow;
        await OnHostAsync("systemctl", "stop", "nginx");

        await Eventually.UntilAsync(async () => (await OnHostAsync("systemctl", "is-active", "nginx")).Stdout.Trim(), s => s == "active", WatchDeadline, "nginx started again");
        await RecordAsync("service:nginx.service", "corrected", since);
    }

    [Fact]
    public async Task PgHbaExtraLine_RemovedAndRecorded()
    {
        var hba = (await OnHostAsync("sh", "-c", "ls /etc/postgresql/*/main/pg_hba.conf")).Stdout.Trim();
        var before = await ReadAsync(hba);
        var since = DateTimeOffset.UtcNow;
        await OnHostAsync("sh", "-c", $"echo 'host all all 10.9.9.9/32 scram-sha-256' >> {hba}");

        await Eventually.UntilAsync(() => ReadAsync(hba), text => text == before, PeriodicDeadline, "pg_hba.conf put back");
        await RecordAsync(null, "corrected", since, r => r.GetProperty("resourceId").GetString()!.StartsWith("pg-hba:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PostgresSettingChanged_PutBackWithinOnePeriod()
    {
        var before = await PsqlAsync("SHOW work_mem");
        var since = DateTimeOffset.UtcNow;
        await PsqlAsync("ALTER SYSTEM SET work_mem = '77MB'");
        await PsqlAsync("SELECT pg_reload_conf()");
        await Eventually.UntilAsync(() => PsqlAsync("SHOW work_mem"), v => v == "77MB", TimeSpan.FromSeconds(10), "the hand change taking effect");

        await Eventually.UntilAsync(() => PsqlAsync("SHOW work_mem"), v => v == before, PeriodicDeadline, "work_mem put back");
        await RecordAsync(null, "corrected", since, r => r.GetProperty("resourceId").GetString()!.StartsWith("pg-settings:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task UfwRuleDeleted_PutBackWithinOnePeriod()
    {
        var since = DateTimeOffset.UtcNow;
        await OnHostAsync("ufw", "delete", "allow", "80/tcp");
        Assert.DoesNotContain("80/tcp", (await OnHostAsync("ufw", "status")).Stdout, StringComparison.Ordinal);

        await Eventually.UntilAsync(async () => (await OnHostAsync("ufw", "status")).Stdout, s => s!.Contains("80/tcp", StringComparison.Ordinal), PeriodicDeadline, "the ufw rule put back");
        await RecordAsync("firewall:ufw", "corrected", since);
    }

    [Fact]
    public async Task ReportPolicy_EditLeftAndReported()
    {
        const string Unattended = "/etc/apt/apt.conf.d/52odoofleet-unattended-upgrades";
        var before = await ReadAsync(Unattended);
        await PolicyAsync("--mode", "report");
        await DriftPolicyOnTh2.WaitConvergedAsync();
        var since = DateTimeOffset.UtcNow;
        try
        {
            await OnHostAsync("sh", "-c", $"echo '// operator owns this' >> {Unattended}");
            await RecordAsync($"file:{Unattended}", "reported", since);
            Assert.Contains("// operator owns this", await ReadAsync(Unattended) ?? "", StringComparison.Ordinal);
            var open = await LiveFleet.FleetJsonAsync("drift", "--host", Host, "--open");
            Assert.Contains(open.EnumerateArray(), r => r.GetProperty("resourceId").GetString() == $"file:{Unattended}");
        }
        finally
        {
            // Back to correct: the new generation's converge puts the file back (an intentional change).
            await PolicyAsync("--mode", "default");
        }

        await Eventually.UntilAsync(() => ReadAsync(Unattended), text => text == before, TimeSpan.FromMinutes(2), "the file back after the policy change");
    }

    [Fact]
    public async Task FileRewrittenEverySecond_FlaggedFlappingNotFoughtForever()
    {
        // Its own file: the flapping state (backoff) of this resource outlives the test.
        const string Filter = "/etc/fail2ban/filter.d/odoo-login.conf";
        var before = await ReadAsync(Filter);
        var since = DateTimeOffset.UtcNow;
        // Something else on the host fights the agent, for at most 90 s.
        await OnHostAsync("sh", "-c", $"nohup timeout 90 sh -c 'while :; do echo \"# fight\" >> {Filter}; sleep 1; done' >/dev/null 2>&1 &");
        try
        {
            await RecordAsync($"file:{Filter}", "flapping", since, deadline: TimeSpan.FromSeconds(80));
            var records = await DriftAsync(since);
            var corrections = records.Count(r => r.GetProperty("resourceId").GetString() == $"file:{Filter}" && r.GetProperty("action").GetString() == "corrected");
            Assert.InRange(corrections, 1, 10);
        }
        finally
        {
            await OnHostAsync("pkill", "-f", "while :; do echo");
            // Put the filter back now rather than after the backoff: one converge of the current spec.
            // (The agent's drift monitor may hold the converge lock for a moment: try again until it is free.)
            await Eventually.UntilAsync<ProcResult>(async () => await OnHostAsync("odoofleet-agent", "converge"), r => r!.ExitCode == 0, TimeSpan.FromMinutes(2), "a converge of th2");
        }

        Assert.Equal(before, await ReadAsync(Filter));
    }

    [Fact]
    public async Task ControllersStopped_DriftStillPutBackAndRecordedAfterReconnect()
    {
        const string Site = "/etc/nginx/sites-available/odoo";
        var before = await ReadAsync(Site);
        var since = DateTimeOffset.UtcNow;
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(2), "controller", "stop", "1");
        await LiveFleet.StackAsync(TimeSpan.FromMinutes(2), "controller", "stop", "2");
        try
        {
            await OnHostAsync("sh", "-c", $"echo '# while away' >> {Site}");
            await Eventually.UntilAsync(() => ReadAsync(Site), text => text == before, WatchDeadline, "the nginx site put back with no controller");
        }
        finally
        {
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "controller", "start", "1");
            await LiveFleet.StackAsync(TimeSpan.FromMinutes(3), "controller", "start", "2");
        }

        var record = await RecordAsync($"file:{Site}", "corrected", since, deadline: TimeSpan.FromMinutes(2));
        Assert.Contains("# while away", record.GetProperty("diff").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OdooConfWorkersHandEdit_ReportedThenAccepted_BecomesTheDesiredValue()
    {
        const string Conf = "/etc/odoo.conf";
        var workers = int.Parse(
            (await OnHostAsync("sh", "-c", $"sed -n 's/^workers *= *//p' {Conf}")).Stdout.Trim(), System.Globalization.CultureInfo.InvariantCulture);
        // Fewer workers than the profile computed: always within what the host's RAM holds.
        var edited = workers > 1 ? workers - 1 : workers + 1;
        await PolicyAsync("--resource", $"file:{Conf}=report");
        await DriftPolicyOnTh2.WaitConvergedAsync();
        var since = DateTimeOffset.UtcNow;
        try
        {
            await OnHostAsync("sed", "-i", $"s/^workers *= *.*/workers = {edited}/", Conf);
            var record = await RecordAsync($"file:{Conf}", "reported", since);
            var proposal = Assert.Single(record.GetProperty("accept").EnumerateArray().ToList());
            Assert.Equal(("odoo.workers", edited.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                (proposal.GetProperty("path").GetString(), proposal.GetProperty("value").GetString()));
            var hostBefore = await LiveFleet.FleetJsonAsync("host", "show", Host);

            var accepted = await LiveFleet.FleetJsonAsync("drift", "accept", record.GetProperty("id").GetString()!);

            Assert.True(accepted.GetProperty("changed").GetBoolean());
            Assert.Equal(hostBefore.GetProperty("desiredGeneration").GetInt64() + 1, accepted.GetProperty("generation").GetInt64());
            await DriftPolicyOnTh2.WaitConvergedAsync();
            Assert.Contains($"workers = {edited}\n", await ReadAsync(Conf) ?? "", StringComparison.Ordinal);
            var shown = await LiveFleet.FleetJsonAsync("drift", "show", record.GetProperty("id").GetString()!);
            Assert.Equal("bootstrap", shown.GetProperty("acceptedBy").GetString());
            var events = await EventsOfAsync(record);
            Assert.Equal(["DriftReported", "DriftAccepted"], events.Select(e => e.Type));
            // The edit is the desired state now: the new generation's converge found nothing to put back.
            Assert.Single(await DriftAsync(since), r => r.GetProperty("resourceId").GetString() == $"file:{Conf}");
        }

        finally
        {
            // Back to the computed workers and the class's policy: an intentional change, converged.
            await LiveFleet.FleetJsonAsync("host", "configure", Host, "--workers", "auto");
            await PolicyAsync("--unset-resource", $"file:{Conf}");
            await DriftPolicyOnTh2.WaitConvergedAsync();
        }

        Assert.Contains($"workers = {workers}\n", await ReadAsync(Conf) ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoppedService_NotAcceptable_RefusedWithWhatToDoInstead()
    {
        var since = DateTimeOffset.UtcNow;
        await OnHostAsync("systemctl", "stop", "fail2ban");
        await Eventually.UntilAsync(async () => (await OnHostAsync("systemctl", "is-active", "fail2ban")).Stdout.Trim(), s => s == "active", WatchDeadline, "fail2ban started again");
        var record = await RecordAsync("service:fail2ban.service", "corrected", since);

        var refused = await LiveFleet.FleetAsync("drift", "accept", record.GetProperty("id").GetString()!);

        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"fleet drift policy {Host} --resource service:fail2ban.service=report", refused.Stderr, StringComparison.Ordinal);
    }

    private static Task PolicyAsync(params string[] args) => DriftPolicyOnTh2.PolicyAsync(args);

    private static async Task<JsonElement[]> DriftAsync(DateTimeOffset since) =>
        [.. (await LiveFleet.FleetJsonAsync("drift", "--host", Host, "--since", since.AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture))).EnumerateArray()];

    /// <summary>The record, once it is there, and its one domain event checked.</summary>
    private async Task<JsonElement> RecordAsync(string? resource, string action, DateTimeOffset since, Func<JsonElement, bool>? match = null, TimeSpan? deadline = null)
    {
        var record = await FindRecordAsync(resource, action, since, match, deadline);
        await AssertOneEventAsync(record, action switch
        {
            "corrected" => "DriftCorrected",
            "reported" => "DriftReported",
            "suppressed" => "DriftSuppressed",
            "flapping" => "DriftFlapping",
            _ => "DriftCorrectionFailed",
        });
        return record;
    }

    /// <summary>Exactly one event of <paramref name="type"/> for the record (stored with it; re-sends add none), without its diff.</summary>
    private async Task AssertOneEventAsync(JsonElement record, string type)
    {
        var events = await EventsOfAsync(record);
        var (eventType, data) = Assert.Single(events, e => e.Type != "DriftAccepted");
        Assert.Equal(type, eventType);
        using var json = JsonDocument.Parse(data);
        Assert.Equal(record.GetProperty("resourceId").GetString(), json.RootElement.GetProperty("resource").GetString());
        Assert.Equal(record.GetProperty("action").GetString(), json.RootElement.GetProperty("action").GetString());
        Assert.False(json.RootElement.TryGetProperty("diff", out _));
    }

    private async Task<List<(string Type, string Data)>> EventsOfAsync(JsonElement record)
    {
        await using var cmd = stack.Db.CreateCommand(
            "SELECT type, data::text FROM events WHERE subject = $1 AND type LIKE 'Drift%' AND data->>'id' = $2 ORDER BY id");
        cmd.Parameters.AddWithValue(record.GetProperty("hostId").GetString()!);
        cmd.Parameters.AddWithValue(record.GetProperty("eventId").GetString()!);
        var events = new List<(string, string)>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            events.Add((reader.GetString(0), reader.GetString(1)));
        }

        return events;
    }

    private static Task<JsonElement> FindRecordAsync(string? resource, string action, DateTimeOffset since, Func<JsonElement, bool>? match = null, TimeSpan? deadline = null) =>
        Eventually.UntilAsync(
            async () => (await DriftAsync(since)).FirstOrDefault(r =>
                (resource is null || r.GetProperty("resourceId").GetString() == resource)
                && r.GetProperty("action").GetString() == action
                && (match is null || match(r))),
            r => r.ValueKind == JsonValueKind.Object,
            deadline ?? TimeSpan.FromSeconds(60),
            $"a drift record {resource} {action} on {Host}");

    private static async Task<string?> ReadAsync(string path) => (await OnHostAsync("cat", path)).Stdout;

    private static async Task<string?> PsqlAsync(string sql) =>
        (await OnHostAsync("runuser", "-u", "postgres", "--", "psql", "-qAtc", sql)).Stdout.Trim();

    private static Task<ProcResult> OnHostAsync(params string[] command) => LiveFleet.OnHostAsync(Host, command);
}

/// <summary>th2's drift policy for the whole class: re-observe every 30 s; set once (every change is a new generation) and reset after.</summary>
public sealed class DriftPolicyOnTh2 : IAsyncLifetime
{
    public const string Host = "th2";

    public static async Task PolicyAsync(params string[] args) =>
        await LiveFleet.FleetJsonAsync(["drift", "policy", Host, .. args]);

    /// <summary>Drift is measured only against a converged generation, and every policy change is one.</summary>
    public static async Task WaitConvergedAsync() =>
        await Eventually.UntilAsync(
            () => LiveFleet.FleetJsonAsync("host", "show", Host),
            h => h.GetProperty("appliedGeneration").GetInt64() == h.GetProperty("desiredGeneration").GetInt64(),
            TimeSpan.FromMinutes(3), "th2 converged its drift policy");

    public async ValueTask InitializeAsync()
    {
        await PolicyAsync("--mode", "default", "--interval", "30s", "--no-maintenance", "--no-ignore");
        await WaitConvergedAsync();
    }

    public async ValueTask DisposeAsync() => await PolicyAsync("--mode", "default", "--interval", "default");
}
