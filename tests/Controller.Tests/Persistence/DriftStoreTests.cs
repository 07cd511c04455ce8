using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class DriftStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private readonly DriftStore drift = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var host = new HostRecord(
            Identifiers.New("h"), $"n{Guid.NewGuid():N}"[..20], "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        return host.Id;
    }

    private static DriftEventRecord Event(string id, string resource, DriftOutcome action, DateTimeOffset detected) => new(
        id, resource, resource[..resource.IndexOf(':', StringComparison.Ordinal)], 4, "workers = 5", "workers = 9",
        "--- a/etc/odoo.conf\n+++ b/etc/odoo.conf\n-workers = 5\n+workers = 9\n", "file", detected, action,
        action == DriftOutcome.Corrected ? detected.AddSeconds(1) : null, false, "");

    private async Task<List<(string Type, string Data)>> EventsAsync(string hostId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand(
            "SELECT type, data::text FROM events WHERE subject = $1 AND type LIKE 'Drift%' ORDER BY id");
        cmd.Parameters.AddWithValue(hostId);
        var events = new List<(string, string)>();
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            events.Add((reader.GetString(0), reader.GetString(1)));
        }

        return events;
    }

    [Fact]
    public async Task RecordAsync_SameEventsTwice_StoredAndAnnouncedOnceBothTimesAcknowledged()
    {
        var hostId = await EnrollAsync();
        DriftEventRecord[] events =
        [
            Event("e1", "file:/etc/odoo.conf", DriftOutcome.Corrected, Now),
            Event("e2", "service:nginx.service", DriftOutcome.Reported, Now.AddSeconds(5)),
        ];

        var first = await drift.RecordAsync(hostId, events, Now.AddSeconds(10), Ct);
        var again = await drift.RecordAsync(hostId, [events[1], events[0], Event("e3", "ufw:22/tcp", DriftOutcome.Failed, Now.AddSeconds(6))], Now.AddSeconds(20), Ct);

        Assert.NotNull(first);
        Assert.Equal(["e1", "e2"], first.Stored);
        Assert.Equal(["e1", "e2"], first.Inserted);
        Assert.NotNull(again);
        Assert.Equal(["e2", "e1", "e3"], again.Stored);
        Assert.Equal(["e3"], again.Inserted);
        var listed = await drift.ListAsync(hostId, null, false, 100, Ct);
        Assert.Equal(["e1", "e2", "e3"], listed.Select(d => d.Event.Id));
        Assert.Equal(Now.AddSeconds(10), listed[0].ReceivedAt);
        var announced = await EventsAsync(hostId);
        // One event per record, named by what the agent did; none for the re-sent ones.
        Assert.Equal(["DriftCorrected", "DriftReported", "DriftCorrectionFailed"], announced.Select(e => e.Type));
        Assert.Contains("\"resource\": \"file:/etc/odoo.conf\"", announced[0].Data, StringComparison.Ordinal);
        Assert.Contains("\"action\": \"corrected\"", announced[0].Data, StringComparison.Ordinal);
        Assert.All(announced, e => Assert.DoesNotContain("workers = 9", e.Data, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecordAsync_RemovedHost_NullAndNothingStored()
    {
        var hostId = Identifiers.New("h");

        Assert.Null(await drift.RecordAsync(hostId, [Event("e1", "file:/etc/odoo.conf", DriftOutcome.Reported, Now)], Now, Ct));
        Assert.Empty(await EventsAsync(hostId));
    }

    [Fact]
    public async Task GetAsync_StoredEvent_EveryFieldBack()
    {
        var hostId = await EnrollAsync();
        var stored = Event("e-1_x", "file:/etc/odoo.conf", DriftOutcome.Corrected, Now) with
        {
            Recurred = true, Error = "", Accept = [new DriftPatch("odoo.workers", "9"), new DriftPatch("odoo.options.limit_time_cpu", "900")],
        };
        await drift.RecordAsync(hostId, [stored], Now.AddSeconds(3), Ct);

        var found = await drift.GetAsync(hostId, "e-1_x", Ct);

        Assert.NotNull(found);
        Assert.Equal(hostId, found.HostId);
        // Equivalent: the accept list comes back as a new list (records compare lists by reference).
        Assert.Equivalent(stored, found.Event, strict: true);
        Assert.Null(found.AcceptedAt);
        Assert.Equal("", found.AcceptedBy);
        Assert.Null(await drift.GetAsync(hostId, "nope", Ct));
        Assert.Null(await drift.GetAsync(await EnrollAsync(), "e-1_x", Ct));
    }

    [Theory]
    [InlineData("corrected", "DriftCorrected")]
    [InlineData("reported", "DriftReported")]
    [InlineData("suppressed", "DriftSuppressed")]
    [InlineData("flapping", "DriftFlapping")]
    [InlineData("failed", "DriftCorrectionFailed")]
    public async Task RecordAsync_EachAction_OneEventNamedByIt(string actionName, string type)
    {
        var hostId = await EnrollAsync();
        var action = Enum.Parse<DriftOutcome>(actionName, ignoreCase: true);

        await drift.RecordAsync(hostId, [Event("e1", "file:/etc/odoo.conf", action, Now)], Now, Ct);

        var announced = Assert.Single(await EventsAsync(hostId));
        Assert.Equal(type, announced.Type);
        Assert.Contains("\"id\": \"e1\"", announced.Data, StringComparison.Ordinal);
        Assert.Contains("\"acceptable\": false", announced.Data, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MarkAcceptedAsync_Twice_MarkedAndAnnouncedOnce()
    {
        var hostId = await EnrollAsync();
        await drift.RecordAsync(hostId, [Event("e1", "file:/etc/odoo.conf", DriftOutcome.Reported, Now) with { Accept = [new DriftPatch("odoo.workers", "9")] }], Now, Ct);

        var first = await drift.MarkAcceptedAsync(hostId, "e1", "alice", 7, [new DriftPatch("odoo.workers", "9")], Now.AddMinutes(1), Ct);
        var second = await drift.MarkAcceptedAsync(hostId, "e1", "bob", 8, [new DriftPatch("odoo.workers", "9")], Now.AddMinutes(2), Ct);

        Assert.True(first);
        Assert.False(second);
        var found = await drift.GetAsync(hostId, "e1", Ct);
        Assert.Equal(Now.AddMinutes(1), found!.AcceptedAt);
        Assert.Equal("alice", found.AcceptedBy);
        Assert.Equal(7, found.AcceptedGeneration);
        Assert.Equal(["DriftReported", "DriftAccepted"], (await EventsAsync(hostId)).Select(e => e.Type));
        Assert.False(await drift.MarkAcceptedAsync(hostId, "nope", "alice", 7, [], Now, Ct));
    }

    [Fact]
    public async Task NewerOfSameResourceAsync_LaterRecordOfTheResource_ItsIdOtherwiseNull()
    {
        var hostId = await EnrollAsync();
        await drift.RecordAsync(hostId,
        [
            Event("e1", "file:/etc/odoo.conf", DriftOutcome.Reported, Now),
            Event("e2", "service:nginx.service", DriftOutcome.Corrected, Now.AddSeconds(5)),
            Event("e3", "file:/etc/odoo.conf", DriftOutcome.Reported, Now.AddSeconds(9)),
        ], Now.AddSeconds(10), Ct);

        Assert.Equal("e3", await drift.NewerOfSameResourceAsync((await drift.GetAsync(hostId, "e1", Ct))!, Ct));
        Assert.Null(await drift.NewerOfSameResourceAsync((await drift.GetAsync(hostId, "e2", Ct))!, Ct));
        Assert.Null(await drift.NewerOfSameResourceAsync((await drift.GetAsync(hostId, "e3", Ct))!, Ct));
    }

    [Fact]
    public async Task ListAsync_OpenOnly_NewestRecordOfEachResourceNotCorrected()
    {
        var hostId = await EnrollAsync();
        await drift.RecordAsync(
            hostId,
            [
                // odoo.conf: reported, later corrected: closed.
                Event("a1", "file:/etc/odoo.conf", DriftOutcome.Reported, Now),
                Event("a2", "file:/etc/odoo.conf", DriftOutcome.Corrected, Now.AddMinutes(1)),
                // nginx: corrected, later flapping: open (only the newest).
                Event("b1", "service:nginx.service", DriftOutcome.Corrected, Now),
                Event("b2", "service:nginx.service", DriftOutcome.Flapping, Now.AddMinutes(2)),
                // ufw: suppressed long ago and nothing since: open.
                Event("c1", "ufw:22/tcp", DriftOutcome.Suppressed, Now.AddDays(-3)),
            ],
            Now.AddMinutes(3),
            Ct);

        var open = await drift.ListAsync(hostId, null, true, 100, Ct);
        var openRecent = await drift.ListAsync(hostId, Now.AddHours(-1), true, 100, Ct);

        Assert.Equal(["c1", "b2"], open.Select(d => d.Event.Id));
        Assert.Equal(["b2"], openRecent.Select(d => d.Event.Id));
    }

    [Fact]
    public async Task ListAsync_SinceHostAndLimit_NewestWithinTheWindowOldestFirst()
    {
        var hostId = await EnrollAsync();
        var other = await EnrollAsync();
        await drift.RecordAsync(hostId, [.. Enumerable.Range(0, 5).Select(i => Event($"e{i}", "file:/etc/odoo.conf", DriftOutcome.Reported, Now.AddMinutes(i)))], Now, Ct);
        await drift.RecordAsync(other, [Event("x", "file:/etc/odoo.conf", DriftOutcome.Reported, Now.AddMinutes(2))], Now, Ct);

        var since = await drift.ListAsync(hostId, Now.AddMinutes(2), false, 100, Ct);
        var limited = await drift.ListAsync(hostId, null, false, 2, Ct);
        var both = await drift.ListAsync(null, Now.AddMinutes(2), false, DriftStore.MaxLimit, Ct);

        Assert.Equal(["e2", "e3", "e4"], since.Select(d => d.Event.Id));
        Assert.Equal(["e3", "e4"], limited.Select(d => d.Event.Id));
        Assert.Contains(both, d => d.HostId == other && d.Event.Id == "x");
        Assert.Contains(both, d => d.HostId == hostId && d.Event.Id == "e4");
        Assert.DoesNotContain(both, d => d.Event.Id is "e0" or "e1");
    }

    [Fact]
    public async Task UpdateProfileAsync_DriftPolicy_StoredReadBackAndSameAgainNoNewGeneration()
    {
        var hostId = await EnrollAsync();
        var hosts = new HostStore(fixture.Database.DataSource);
        var defaults = new ProfileDefaults(null, "info", 5, 600, 3600);
        var change = new ProfileChange
        {
            DriftDefaultMode = DriftModeSetting.Report,
            SetDriftModes = new() { ["kind:ufw"] = DriftModeSetting.Correct },
            DriftMaintenance = [new MaintenanceWindowSetting("sat,sun", "02:00", 120)],
            DriftIgnore = ["file:/etc/motd"],
            DriftIntervalSeconds = 60,
        };

        var first = await hosts.UpdateProfileAsync(hostId, p => ProfileRules.Apply(p, change, defaults), "test", Now, Ct);
        var second = await hosts.UpdateProfileAsync(hostId, p => ProfileRules.Apply(p, change, defaults), "test", Now, Ct);
        var stored = (await hosts.FindAsync(hostId, Ct))!.Profile.Drift;

        Assert.True(first.Changed);
        Assert.False(second.Changed);
        Assert.Equal(first.Generation, second.Generation);
        Assert.Equal(DriftModeSetting.Report, stored.DefaultMode);
        Assert.Equal(DriftModeSetting.Correct, stored.Modes["kind:ufw"]);
        Assert.Equal([new MaintenanceWindowSetting("sat,sun", "02:00", 120)], stored.Maintenance);
        Assert.Equal(["file:/etc/motd"], stored.Ignore);
        Assert.Equal(60, stored.PeriodicIntervalSeconds);
    }
}
