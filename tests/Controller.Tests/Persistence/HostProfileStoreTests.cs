using Npgsql;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class HostProfileStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly ProfileDefaults Defaults = new("ops@example.org", "info", 5, 600, 3600);
    private readonly HostStore hosts = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);

    /// <summary>A freshly enrolled host wants generation 1: the baseline without Odoo.</summary>
    private const long Enrolled = 1;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<string> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var host = new HostRecord(
            Identifiers.New("h"), $"p{Guid.NewGuid():N}"[..20], "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        return host.Id;
    }

    private Task<ProfileUpdate> ConfigureAsync(string hostId, ProfileChange change) =>
        hosts.UpdateProfileAsync(hostId, current => ProfileRules.Apply(current, change, Defaults), "test", Now, Ct);

    private async Task<List<string>> SpecChangedEventsAsync(string hostId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand(
            "SELECT data::text FROM events WHERE type = 'HostSpecChanged' AND subject = $1 ORDER BY id");
        cmd.Parameters.AddWithValue(hostId);
        var events = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            events.Add(reader.GetString(0));
        }

        return events;
    }

    [Fact]
    public async Task UpdateProfileAsync_SameChangeTwice_BumpsAndRecordsEventOnce()
    {
        var hostId = await EnrollAsync();
        var change = new ProfileChange
        {
            Domains = ["erp.example.org", "www.example.org"],
            Tls = TlsSetting.Acme,
            Workers = 5,
            SetOptions = new() { ["limit_time_cpu"] = "600", ["limit_request"] = "8192" },
        };

        var first = await ConfigureAsync(hostId, change);
        var second = await ConfigureAsync(hostId, change);

        Assert.Equal(new ProfileUpdate(true, Enrolled + 1, true, []), first with { Errors = [] });
        Assert.True(second is { Found: true, Generation: Enrolled + 1, Changed: false, Errors.Length: 0 });
        var events = await SpecChangedEventsAsync(hostId);
        Assert.Single(events);
        Assert.Contains("\"erp.example.org\"", events[0], StringComparison.Ordinal);
        var stored = await hosts.FindAsync(hostId, Ct);
        Assert.Equal(Enrolled + 1, stored!.DesiredGeneration);
        Assert.Equal(["erp.example.org", "www.example.org"], stored.Profile.Domains);
        Assert.Equal(TlsSetting.Acme, stored.Profile.Tls);
        Assert.Equal("600", stored.Profile.OdooOptions["limit_time_cpu"]);
    }

    [Fact]
    public async Task UpdateProfileAsync_ChangeToDefaultsOnFreshHost_NoBump()
    {
        var hostId = await EnrollAsync();

        var update = await ConfigureAsync(hostId, new ProfileChange { Workers = 0, LogLevel = "", DatabaseManager = false, Tls = TlsSetting.SelfSigned });

        Assert.False(update.Changed);
        Assert.Equal(Enrolled, update.Generation);
        Assert.Empty(await SpecChangedEventsAsync(hostId));
    }

    [Fact]
    public async Task UpdateProfileAsync_RealChangeAfterRelease_BumpsFromTheCurrentGeneration()
    {
        var hostId = await EnrollAsync();
        await hosts.SetDesiredReleaseAsync(hostId, new OdooRelease("18.0", new string('a', 40)), "{}", Now, Ct);

        var update = await ConfigureAsync(hostId, new ProfileChange { LogLevel = "warn" });
        var back = await ConfigureAsync(hostId, new ProfileChange { LogLevel = "" });

        Assert.Equal(Enrolled + 2, update.Generation);
        Assert.True(back.Changed);
        Assert.Equal(Enrolled + 3, back.Generation);
        var stored = await hosts.FindAsync(hostId, Ct);
        Assert.Null(stored!.Profile.LogLevel);
        Assert.Equal(new OdooRelease("18.0", new string('a', 40)), stored.DesiredRelease);
    }

    [Fact]
    public async Task UpdateProfileAsync_RefusedMerge_NothingWritten()
    {
        var hostId = await EnrollAsync();

        var update = await ConfigureAsync(hostId, new ProfileChange { PostgresRemote = true, Workers = 3 });

        Assert.False(update.Changed);
        Assert.Contains("--pg-host", Assert.Single(update.Errors), StringComparison.Ordinal);
        var stored = await hosts.FindAsync(hostId, Ct);
        Assert.Equal(Enrolled, stored!.DesiredGeneration);
        Assert.Null(stored.Profile.Workers);
        Assert.Empty(await SpecChangedEventsAsync(hostId));
    }

    [Fact]
    public async Task UpdateProfileAsync_UnknownHost_NotFound()
    {
        var update = await ConfigureAsync(Identifiers.New("h"), new ProfileChange { Workers = 3 });

        Assert.False(update.Found);
    }

    [Fact]
    public async Task UpdateProfileAsync_ConcurrentDifferentChanges_BothKeptTwoGenerations()
    {
        var hostId = await EnrollAsync();
        await using var other = fixture.Database.CreateDataSource();
        var otherStore = new HostStore(other);

        await Task.WhenAll(
            ConfigureAsync(hostId, new ProfileChange { Workers = 4 }),
            otherStore.UpdateProfileAsync(hostId, p => ProfileRules.Apply(p, new ProfileChange { LogLevel = "warn" }, Defaults), "test", Now, Ct));

        var stored = await hosts.FindAsync(hostId, Ct);
        Assert.Equal(4, stored!.Profile.Workers);
        Assert.Equal("warn", stored.Profile.LogLevel);
        Assert.Equal(Enrolled + 2, stored.DesiredGeneration);
        Assert.Equal(2, (await SpecChangedEventsAsync(hostId)).Count);
    }

    [Fact]
    public async Task FindAsync_ProfileJsonWithKeysInAnyOrder_ReadsBack()
    {
        var hostId = await EnrollAsync();
        await using (var cmd = fixture.Database.DataSource.CreateCommand(
            """UPDATE hosts SET profile = '{"odooOptions": {"limit_time_cpu": "6", "limit_request": "9"}, "tls": "acme", "postgres": {"host": "db1", "port": 6432}}' WHERE id = $1"""))
        {
            cmd.Parameters.AddWithValue(hostId);
            await cmd.ExecuteNonQueryAsync(Ct);
        }

        var stored = await hosts.FindAsync(hostId, Ct);

        Assert.Equal(TlsSetting.Acme, stored!.Profile.Tls);
        Assert.Equal(new RemotePostgres("db1", 6432, null, null), stored.Profile.Postgres);
        Assert.Equal("9", stored.Profile.OdooOptions["limit_request"]);
        Assert.Empty(stored.Profile.Domains);
    }
}
