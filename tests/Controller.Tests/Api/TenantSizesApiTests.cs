using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Security;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// Tenant sizes through the real AgentService over mTLS: a host reports its own tenants only, every
/// value is checked at the edge, and what is stored is what `fleet tenant show` reads.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TenantSizesApiTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Unique() => $"s{Guid.NewGuid():N}"[..14];

    private async Task<string> PlaceAsync(EnrolledAgent agent)
    {
        var name = Unique();
        var verdict = new HostVerdict(agent.HostId, agent.Response.Name, true, 1, ["fits"]);
        var created = await new TenantStore(fixture.Database.DataSource).CreateAsync(
            Identifiers.New("n"), new TenantRequest(name, [$"{name}.example.com"], "small", null, new Dictionary<string, string>(), ["base"]),
            _ => new PlacementDecision(verdict, [verdict], "test"), DateTimeOffset.UtcNow, Ct);
        Assert.Equal(TenantCreation.Created, created.Outcome);
        return name;
    }

    private static TenantSizeReport Report(string hostId, DateTimeOffset measuredAt, params (string Name, long Database, long Filestore)[] sizes) => new()
    {
        HostId = hostId,
        MeasuredAt = Timestamp.FromDateTimeOffset(measuredAt),
        Tenants = { sizes.Select(s => new TenantSize { Name = s.Name, DatabaseBytes = s.Database, FilestoreBytes = s.Filestore }) },
    };

    [Fact]
    public async Task ReportTenantSizes_OwnTenants_StoredAndShownWithWhenMeasured()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, time);
        var agent = await endpoint.EnrollAsync(Ct);
        var (a, b) = (await PlaceAsync(agent), await PlaceAsync(agent));
        var tenants = new TenantStore(fixture.Database.DataSource);
        Assert.Equal(-1, (await tenants.FindAsync(a, Ct))!.ToProto().DatabaseBytes);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var measuredAt = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds() - 3); // PostgreSQL keeps microseconds
            var response = await client.ReportTenantSizesAsync(
                Report(agent.HostId, measuredAt, (a, 8_400_000, 2_048), (b, 7_900_000, 0), ("deleted-meanwhile", 1, 1)), cancellationToken: Ct);

            Assert.Equal(2, response.Recorded);
            Assert.Equal(["deleted-meanwhile"], response.Unknown);
            var shown = (await tenants.FindAsync(a, Ct))!.ToProto();
            Assert.Equal((8_400_000L, 2_048L), (shown.DatabaseBytes, shown.FilestoreBytes));
            Assert.Equal(measuredAt, shown.SizesMeasuredAt.ToDateTimeOffset());
            Assert.Null(shown.LastBackupAt);
            Assert.Equal(7_900_000L, (await tenants.FindAsync(b, Ct))!.ToProto().DatabaseBytes);
        }
    }

    [Fact]
    public async Task ReportTenantSizes_AnotherHostsTenant_PermissionDeniedAuditedAndNothingStored()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var (agent, other) = (await endpoint.EnrollAsync(Ct), await endpoint.EnrollAsync(Ct));
        var (own, theirs) = (await PlaceAsync(agent), await PlaceAsync(other));
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportTenantSizesAsync(
                Report(agent.HostId, DateTimeOffset.UtcNow, (own, 10, 10), (theirs, 1, 1)), cancellationToken: Ct));
            var forOther = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportTenantSizesAsync(
                Report(other.HostId, DateTimeOffset.UtcNow, (theirs, 1, 1)), cancellationToken: Ct));

            Assert.Equal(StatusCode.PermissionDenied, e.StatusCode);
            Assert.Contains($"{theirs} are placed on another host", e.Status.Detail, StringComparison.Ordinal);
            Assert.Equal(StatusCode.PermissionDenied, forOther.StatusCode);
            var tenants = new TenantStore(fixture.Database.DataSource);
            Assert.Null((await tenants.FindAsync(own, Ct))!.DatabaseBytes);
            Assert.Null((await tenants.FindAsync(theirs, Ct))!.DatabaseBytes);
            var audited = await new AuditStore(fixture.Database.DataSource).ListAsync(DateTimeOffset.UnixEpoch, AuditStore.MaxLimit, $"agent:{agent.HostId}", Ct);
            Assert.Contains(audited, a => a.Action.EndsWith("/ReportTenantSizes", StringComparison.Ordinal) && a.Result == "denied: tenant sizes name another host's tenant");
        }
    }

    [Theory]
    [InlineData("negative", "tenants[0] (NAME).database_bytes: -1 is out of range")]
    [InlineData("absurd", "tenants[0] (NAME).filestore_bytes: 1125899906842625 is out of range")]
    [InlineData("twice", "tenants[1].name: NAME is reported twice")]
    [InlineData("badname", "tenants[0].name: 'NAME;drop' is not a tenant name")]
    [InlineData("future", "measured_at: ")]
    [InlineData("unset", "measured_at: is required")]
    public async Task ReportTenantSizes_BadReport_InvalidArgumentNamingTheFieldAndNothingStored(string kind, string expected)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, time);
        var agent = await endpoint.EnrollAsync(Ct);
        var name = await PlaceAsync(agent);
        var now = time.GetUtcNow();
        var report = kind switch
        {
            "negative" => Report(agent.HostId, now, (name, -1, 0)),
            "absurd" => Report(agent.HostId, now, (name, 1, TenantSizeRecord.MaxBytes + 1)),
            "twice" => Report(agent.HostId, now, (name, 1, 1), (name, 2, 2)),
            "badname" => Report(agent.HostId, now, (name + ";drop", 1, 1)),
            "future" => Report(agent.HostId, now.AddHours(1), (name, 1, 1)),
            _ => Report(agent.HostId, now, (name, 1, 1)),
        };
        if (kind == "unset")
        {
            report.MeasuredAt = null;
        }

        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportTenantSizesAsync(report, cancellationToken: Ct));

            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
            Assert.StartsWith(expected.Replace("NAME", name, StringComparison.Ordinal), e.Status.Detail, StringComparison.Ordinal);
            Assert.Null((await new TenantStore(fixture.Database.DataSource).FindAsync(name, Ct))!.DatabaseBytes);
        }
    }
}
