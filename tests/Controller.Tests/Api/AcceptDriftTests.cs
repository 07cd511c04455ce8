using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using HostSpec = OdooFleet.Controller.Domain.HostSpec;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// FleetService.AcceptDrift behind the real access interceptor on a real PostgreSQL: the agent's
/// proposal goes through ProfileRules and the host grain's profile update (a test double that
/// runs the grain's own store call), the record is marked, DriftAccepted and HostSpecChanged are
/// appended and the call is audited; refusals say why and what to do instead.
/// </summary>
public sealed class AcceptDriftTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private const string Admin = "ofb_bootstrap-for-accept-tests";
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private readonly FakeTimeProvider time = new(Now);
    private readonly HostStore hosts = new(fixture.Database.DataSource);
    private readonly DriftStore drift = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);
    private FleetApiServer? server;
    private IGrainFactory? grains;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FleetService.FleetServiceClient Fleet => server!.Fleet;

    public async ValueTask InitializeAsync()
    {
        grains = ProfileGrains.Create(hosts, time);
        server = await FleetApiServer.StartAsync(fixture.Database, Admin, time, grains: grains);
    }

    public async ValueTask DisposeAsync() => await server!.DisposeAsync();

    private async Task<HostRecord> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var id = Identifiers.New("h");
        var host = new HostRecord(id, $"web-{id[2..]}", "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        return (await hosts.FindAsync(id, Ct))!;
    }

    private async Task RecordAsync(HostRecord host, string id, string resource, DateTimeOffset detected, params DriftPatch[] accept)
    {
        var record = new DriftEventRecord(
            id, resource, resource[..resource.IndexOf(':', StringComparison.Ordinal)], 0, "as declared", "update: content", "", "file",
            detected, DriftOutcome.Reported, null, false, "")
        {
            Accept = accept,
        };
        Assert.NotNull(await drift.RecordAsync(host.Id, [record], detected, Ct));
    }

    private Task<AcceptDriftResponse> AcceptAsync(HostRecord host, string id) =>
        Fleet.AcceptDriftAsync(new AcceptDriftRequest { Host = host.Name, Id = id }, FleetApiServer.Bearer(Admin), cancellationToken: Ct).ResponseAsync;

    private async Task<List<(string Type, string Data)>> EventsAsync(string hostId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand("SELECT type, data::text FROM events WHERE subject = $1 ORDER BY id");
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
    public async Task AcceptDrift_WorkersAndOptionObserved_ProfileChangedOnceRecordMarkedEventsAndAudit()
    {
        var host = await EnrollAsync();
        await RecordAsync(host, "d-1", "file:/etc/odoo.conf", Now,
            new DriftPatch("odoo.workers", "3"), new DriftPatch("odoo.options.limit_time_cpu", "900"));

        var accepted = await AcceptAsync(host, "d-1");
        var again = await AcceptAsync(host, "d-1");

        Assert.True(accepted.Changed);
        Assert.Equal(host.DesiredGeneration + 1, accepted.Generation);
        Assert.Equal(["odoo.workers=3", "odoo.options.limit_time_cpu=900"], accepted.Applied.Select(p => $"{p.Path}={p.Value}"));
        // Accepting twice is the same acceptance: no second spec change.
        Assert.False(again.Changed);
        Assert.Equal(accepted.Generation, again.Generation);
        var stored = await hosts.FindAsync(host.Id, Ct);
        Assert.NotNull(stored);
        Assert.Equal(accepted.Generation, stored.DesiredGeneration);
        Assert.Equal(3, stored.Profile.Workers);
        Assert.Equal("900", stored.Profile.OdooOptions["limit_time_cpu"]);
        Assert.Equal(["fleet drift accept d-1"], ProfileGrains.Of(grains!).Causes);
        var record = await Fleet.GetDriftAsync(new GetDriftRequest { Host = host.Name, Id = "d-1" }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.Equal(Now, record.AcceptedAt.ToDateTimeOffset());
        Assert.Equal("bootstrap", record.AcceptedBy);
        var events = await EventsAsync(host.Id);
        Assert.Equal(["DriftReported", "HostSpecChanged", "DriftAccepted"], events.Where(e => e.Type != "HostEnrolled").Select(e => e.Type));
        var acceptedEvent = events.Single(e => e.Type == "DriftAccepted").Data;
        Assert.Contains($"\"generation\": {accepted.Generation}", acceptedEvent, StringComparison.Ordinal);
        Assert.Contains("\"by\": \"bootstrap\"", acceptedEvent, StringComparison.Ordinal);
        var audit = await new AuditStore(fixture.Database.DataSource).ListAsync(Now.AddMinutes(-1), AuditStore.MaxLimit, null, Ct);
        Assert.Equal(2, audit.Count(a => a.Action == "AcceptDrift" && a.Target == "d-1" && a.Actor == "bootstrap" && a.Result == "ok"
            && a.DetailJson.Contains(host.Name, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AcceptDrift_PostgresSettingObserved_OverrideInTheSpecOfTheNewGeneration()
    {
        var host = await EnrollAsync();
        await RecordAsync(host, "d-pg", "pg-settings:16/main", Now, new DriftPatch("postgres.settings.work_mem", "64MB"));

        var accepted = await AcceptAsync(host, "d-pg");

        Assert.True(accepted.Changed);
        var stored = await hosts.FindAsync(host.Id, Ct);
        Assert.Equal("64MB", stored!.Profile.PostgresSettings["work_mem"]);
        var spec = new HostSpec(host.Id, accepted.Generation, null, "", 8069, 8072) { Profile = stored.Profile }.ToProto();
        Assert.Equal("64MB", spec.Postgres.Settings["work_mem"]);
    }

    [Fact]
    public async Task AcceptDrift_NothingAcceptable_FailedPreconditionPointsAtThePolicy()
    {
        var host = await EnrollAsync();
        await RecordAsync(host, "d-svc", "service:nginx.service", Now);

        var error = await Assert.ThrowsAsync<RpcException>(async () => await AcceptAsync(host, "d-svc"));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("cannot be accepted", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"fleet drift policy {host.Name} --resource service:nginx.service=report", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(host.DesiredGeneration, (await hosts.FindAsync(host.Id, Ct))!.DesiredGeneration);
    }

    [Fact]
    public async Task AcceptDrift_SameResourceDriftedAgainLater_FailedPreconditionNamesTheNewerEvent()
    {
        var host = await EnrollAsync();
        await RecordAsync(host, "d-old", "file:/etc/odoo.conf", Now.AddMinutes(-2), new DriftPatch("odoo.workers", "3"));
        await RecordAsync(host, "d-new", "file:/etc/odoo.conf", Now.AddMinutes(-1), new DriftPatch("odoo.workers", "4"));

        var error = await Assert.ThrowsAsync<RpcException>(async () => await AcceptAsync(host, "d-old"));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("superseded", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains($"fleet drift show {host.Name} d-new", error.Status.Detail, StringComparison.Ordinal);
        Assert.Null((await drift.GetAsync(host.Id, "d-old", Ct))!.AcceptedAt);
    }

    [Theory]
    [InlineData("odoo.workers", "999", "workers: 999 is out of range")]
    [InlineData("odoo.workers", "0", "odoo.workers: the observed value is 0")]
    [InlineData("odoo.workers", "three", "odoo.workers: the observed value 'three' is not a whole number")]
    [InlineData("odoo.log_level", "info_rpc", "log_level: 'info_rpc' is not an Odoo 18 log level")]
    [InlineData("odoo.options.proxy_mode", "False", "option 'proxy_mode': is owned by the profile")]
    [InlineData("odoo.options.no_such_key", "1", "option 'no_such_key': is not an Odoo 18 option")]
    [InlineData("postgres.settings.port", "5433", "postgres.settings.port: is how the agent reaches the cluster")]
    public async Task AcceptDrift_ObservedValueBreaksTheRules_FailedPreconditionNamesTheRuleAndNothingChanges(string path, string value, string expected)
    {
        var host = await EnrollAsync();
        await RecordAsync(host, "d-bad", "file:/etc/odoo.conf", Now, new DriftPatch(path, value));

        var error = await Assert.ThrowsAsync<RpcException>(async () => await AcceptAsync(host, "d-bad"));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(host.DesiredGeneration, (await hosts.FindAsync(host.Id, Ct))!.DesiredGeneration);
        Assert.Null((await drift.GetAsync(host.Id, "d-bad", Ct))!.AcceptedAt);
    }

    [Fact]
    public async Task AcceptDrift_PostgresSettingOnARemoteDatabaseHost_FailedPreconditionFromTheMergedProfile()
    {
        var host = await EnrollAsync();
        Assert.True((await hosts.UpdateProfileAsync(
            host.Id, p => (p with { Postgres = new RemotePostgres("db1.example.com", null, null, null) }, []), "test", Now, Ct)).Changed);
        await RecordAsync(host, "d-remote", "pg-settings:16/main", Now, new DriftPatch("postgres.settings.work_mem", "64MB"));

        var error = await Assert.ThrowsAsync<RpcException>(async () => await AcceptAsync(host, "d-remote"));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("postgres.settings: overrides are for the local PostgreSQL", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AcceptDrift_UnknownEvent_NotFound()
    {
        var host = await EnrollAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () => await AcceptAsync(host, "d-none"));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("fleet drift --host", error.Status.Detail, StringComparison.Ordinal);
    }
}
