using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Security;

/// <summary>An agent's report of a command it refused (forged, replayed, expired...) lands in the audit log; only for itself.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RejectedCommandTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));
    private static readonly DateTimeOffset Epoch = new(2000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReportRejectedCommand_OwnHost_AuditedAsDeniedWithPrintableTarget()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            await client.ReportRejectedCommandAsync(
                new RejectedCommand { HostId = agent.HostId, MessageId = "m-1\nforged", CommandId = "c-abc", Reason = "signature does not verify" },
                cancellationToken: Ct);
        }

        var entries = await new AuditStore(fixture.Database.DataSource).ListAsync(Epoch, AuditStore.MaxLimit, $"agent:{agent.HostId}", Ct);
        var entry = Assert.Single(entries, e => e.Action == "HostCommandRejected");
        Assert.Equal("m-1?forged", entry.Target);
        Assert.Equal("denied: signature does not verify", entry.Result);
    }

    [Fact]
    public async Task ReportRejectedCommand_ForAnotherHost_PermissionDeniedAndNothingRecordedForIt()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var other = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () => await client.ReportRejectedCommandAsync(
                new RejectedCommand { HostId = other.HostId, MessageId = "m-2", Reason = "made up" }, cancellationToken: Ct));
            Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        }

        var entries = await new AuditStore(fixture.Database.DataSource).ListAsync(Epoch, AuditStore.MaxLimit, null, Ct);
        Assert.DoesNotContain(entries, e => e.Action == "HostCommandRejected" && e.Target == "m-2");
    }
}
