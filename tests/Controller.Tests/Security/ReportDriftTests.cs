using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Security;

/// <summary>AgentService.ReportDrift over the real mTLS endpoint: own drift stored and acknowledged, re-sends harmless, the rest refused.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ReportDriftTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static DriftEvent Event(string id, DateTimeOffset detected) => new()
    {
        Id = id,
        ResourceId = "file:/etc/odoo.conf",
        Kind = "file",
        Generation = 0,
        Expected = "workers = 5",
        Actual = "workers = 9",
        Diff = "--- a\n+++ b\n-workers = 5\n+workers = 9\n",
        Trigger = "file",
        DetectedAt = Timestamp.FromDateTimeOffset(detected),
        Action = DriftAction.Corrected,
        CorrectedAt = Timestamp.FromDateTimeOffset(detected.AddSeconds(1)),
    };

    private async Task<int> CountAsync(string hostId)
    {
        await using var cmd = fixture.Database.DataSource.CreateCommand("SELECT count(*) FROM drift_events WHERE host_id = $1");
        cmd.Parameters.AddWithValue(hostId);
        return (int)(long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    [Fact]
    public async Task ReportDrift_OwnHostThenResent_AcknowledgedBothTimesStoredOnce()
    {
        // Whole seconds: PostgreSQL keeps microseconds, the clock ticks finer.
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, time);
        var agent = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var report = new DriftReport { HostId = agent.HostId, Events = { Event("d1", time.GetUtcNow()), Event("d2", time.GetUtcNow()) } };

            var first = await client.ReportDriftAsync(report, cancellationToken: Ct);
            report.Events.Add(Event("d3", time.GetUtcNow()));
            var again = await client.ReportDriftAsync(report, cancellationToken: Ct);

            Assert.Equal(["d1", "d2"], first.AcknowledgedIds);
            Assert.Equal(["d1", "d2", "d3"], again.AcknowledgedIds);
        }

        Assert.Equal(3, await CountAsync(agent.HostId));
        var stored = await endpoint.Get<DriftStore>().GetAsync(agent.HostId, "d1", Ct);
        Assert.NotNull(stored);
        Assert.Equal("workers = 9", stored.Event.Actual);
        Assert.Equal(time.GetUtcNow(), stored.ReceivedAt);
    }

    [Fact]
    public async Task ReportDrift_AcceptProposal_StoredWithTheRecordAndAMalformedOneRefused()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, time);
        var agent = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var good = Event("a1", time.GetUtcNow());
            good.Accept.Add(new SpecPatch { Path = "odoo.workers", Value = "9" });
            var bad = Event("a2", time.GetUtcNow());
            bad.Accept.Add(new SpecPatch { Path = "odoo.admin_passwd", Value = "x" });

            await client.ReportDriftAsync(new DriftReport { HostId = agent.HostId, Events = { good } }, cancellationToken: Ct);
            var error = await Assert.ThrowsAsync<RpcException>(async () =>
                await client.ReportDriftAsync(new DriftReport { HostId = agent.HostId, Events = { bad } }, cancellationToken: Ct));

            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("events[0] (a2).accept[0].path: 'odoo.admin_passwd' is not a spec path", error.Status.Detail, StringComparison.Ordinal);
        }

        var stored = await endpoint.Get<DriftStore>().GetAsync(agent.HostId, "a1", Ct);
        Assert.Equal([new OdooFleet.Controller.Domain.DriftPatch("odoo.workers", "9")], stored!.Event.Accept);
        Assert.Equal(1, await CountAsync(agent.HostId));
    }

    [Fact]
    public async Task ReportDrift_ForAnotherHost_PermissionDeniedAuditedNothingStored()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var other = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportDriftAsync(
                new DriftReport { HostId = other.HostId, Events = { Event("forged", DateTimeOffset.UtcNow) } }, cancellationToken: Ct));
            Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        }

        Assert.Equal(0, await CountAsync(other.HostId));
        var audited = await new AuditStore(fixture.Database.DataSource).ListAsync(DateTimeOffset.UnixEpoch, AuditStore.MaxLimit, $"agent:{agent.HostId}", Ct);
        Assert.Contains(audited, e => e.Action.EndsWith("/ReportDrift", StringComparison.Ordinal) && e.Result.StartsWith("denied", StringComparison.Ordinal));
    }

    public static TheoryData<string, string> InvalidEvents => new()
    {
        { "id", "bad id/with slash" },
        { "id", "" },
        { "id", new string('a', 65) },
        { "resource_id", "file:/etc/odoo.conf\nforged" },
        { "resource_id", "" },
        { "resource_id", new string('r', 513) },
        { "kind", "" },
        { "expected", "two\nlines" },
        { "actual", new string('x', 4097) },
        { "trigger", "file\u2028" },
        { "diff", new string('d', 64 * 1024 + 1) },
        { "action", "unspecified" },
        { "action", "99" },
        { "detected_at", "missing" },
        { "detected_at", "future" },
        { "corrected_at", "future" },
        { "generation", "-1" },
    };

    [Theory]
    [MemberData(nameof(InvalidEvents))]
    public async Task ReportDrift_InvalidEvent_InvalidArgumentNamingTheFieldNothingStored(string field, string value)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, time);
        var agent = await endpoint.EnrollAsync(Ct);
        var good = Event("ok1", time.GetUtcNow());
        var bad = Event("bad1", time.GetUtcNow());
        switch (field)
        {
            case "id": bad.Id = value; break;
            case "resource_id": bad.ResourceId = value; break;
            case "kind": bad.Kind = value; break;
            case "expected": bad.Expected = value; break;
            case "actual": bad.Actual = value; break;
            case "trigger": bad.Trigger = value; break;
            case "diff": bad.Diff = value; break;
            case "generation": bad.Generation = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture); break;
            case "action": bad.Action = value == "unspecified" ? DriftAction.Unspecified : (DriftAction)99; break;
            case "detected_at" when value == "missing": bad.DetectedAt = null; break;
            case "detected_at": bad.DetectedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow().AddHours(1)); break;
            case "corrected_at": bad.CorrectedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow().AddDays(1)); break;
        }

        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportDriftAsync(
                new DriftReport { HostId = agent.HostId, Events = { good, bad } }, cancellationToken: Ct));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains($"events[1]", error.Status.Detail, StringComparison.Ordinal);
            Assert.Contains(field, error.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(0, await CountAsync(agent.HostId));
    }

    [Fact]
    public async Task ReportDrift_MoreThan500Events_InvalidArgumentNothingStored()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, time);
        var agent = await endpoint.EnrollAsync(Ct);
        var report = new DriftReport { HostId = agent.HostId };
        report.Events.AddRange(Enumerable.Range(0, 501).Select(i => Event($"e{i}", time.GetUtcNow())));
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportDriftAsync(report, cancellationToken: Ct));
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("at most 500", error.Status.Detail, StringComparison.Ordinal);
        }

        Assert.Equal(0, await CountAsync(agent.HostId));
    }
}
