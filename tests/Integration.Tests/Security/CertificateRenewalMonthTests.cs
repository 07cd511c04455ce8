using System.Diagnostics;
using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Transport;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Tests.Messaging;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Security;
using Xunit;

namespace OdooFleet.Integration.Tests.Security;

/// <summary>
/// Issue 5's evidence: the real agent (CertificateRenewer, IdentityHolder, ControllerClient with its
/// mutual TLS, FleetTrust) against the real controller's AgentService (fleet CA, AgentAuthenticator,
/// PostgreSQL, RabbitMQ) over TLS on 127.0.0.1, both on one fake clock, for a simulated month.
/// </summary>
public sealed class CertificateRenewalMonthTests(MigratedDatabaseFixture database, BrokerFixture broker)
    : IClassFixture<MigratedDatabaseFixture>, IClassFixture<BrokerFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    /// <summary>Wall-clock bound on one renewal (a real gRPC call and two file writes); a renewal that failed waits on the fake clock forever instead.</summary>
    private static readonly TimeSpan RenewalDeadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Print(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>A whole second, so certificate times (encoded to the second) are exactly issue time + lifetime.</summary>
    private static FakeTimeProvider NewClock() => new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

    [Fact]
    public async Task CertificateRenewer_SimulatedMonthOfHourlyHeartbeats_NoHeartbeatFailsAndEveryCertificateIsUsed()
    {
        const int hours = 30 * 24;
        var wall = Stopwatch.StartNew();
        await using var endpoint = await TestAgentEndpoint.StartAsync(database.Database, Key, NewClock(), broker.Options);
        await using var agent = await AgentUnderTest.EnrollAsync(endpoint, Ct);
        var lifetime = endpoint.Get<Microsoft.Extensions.Options.IOptions<SecurityOptions>>().Value.AgentCertificateLifetime;
        Assert.Equal(TimeSpan.FromDays(7), lifetime);

        var serials = new List<string> { Serial(agent) };
        var renewedAt = new List<int>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        var failures = new List<string>();
        var invalidHours = new List<int>();
        for (var hour = 1; hour <= hours; hour++)
        {
            endpoint.Time.Advance(TimeSpan.FromHours(1));
            await RenewIfDueAsync(agent, hour);
            if (Serial(agent) != serials[^1])
            {
                serials.Add(Serial(agent));
                renewedAt.Add(hour);
            }

            var now = endpoint.Time.GetUtcNow().UtcDateTime;
            var certificate = agent.Identity.Identity.Certificate;
            if (now < certificate.NotBefore.ToUniversalTime() || now > certificate.NotAfter.ToUniversalTime())
            {
                invalidHours.Add(hour);
            }

            if (await agent.HeartbeatAsync(Ct) is { } failed)
            {
                failures.Add($"hour {hour}: {failed.StatusCode}: {failed.Detail}");
            }
            else
            {
                used.Add(Serial(agent));
            }
        }

        var renewals = serials.Count - 1;
        var recorded = await RecordedSerialsAsync(agent.Config.HostId);
        using var onDisk = await AgentIdentity.LoadAsync(agent.Config.IdentityPath, Ct);
        Print($"{hours} heartbeats, {failures.Count} failed, {renewals} renewals, serials: {string.Join(", ", serials)}");
        Print($"renewed at hours {string.Join(", ", renewedAt)} (2/3 of {lifetime.TotalHours:F0} h = {lifetime.TotalHours * 2 / 3:F0} h)");
        Print($"controller recorded {recorded.Count} certificates for {agent.Config.HostId}; simulated {hours} h in {wall.Elapsed.TotalSeconds:F1} s wall clock");

        Assert.Empty(failures);
        Assert.Empty(invalidHours);
        // 30 days / (2/3 of 7 days) = 6.4: six renewals, give or take one for where the month ends.
        Assert.InRange(renewals, 5, 7);
        Assert.Equal(serials, recorded);
        Assert.Equal(recorded, serials.Where(used.Contains));
        Assert.Equal(agent.Identity.Identity.Certificate.RawData, onDisk.Certificate.RawData);
        Assert.Equal(serials[^1], FleetCertificateAuthority.SerialOf(onDisk.Certificate));
        Assert.DoesNotContain(agent.RenewerLog.Messages, m => m.Contains("failed", StringComparison.Ordinal) || m.Contains("expired", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Heartbeat_RenewerNotRunningSevenDaysAndAnHour_UnauthenticatedExpiredAndAudited()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(database.Database, Key, NewClock(), broker.Options);
        await using var agent = await AgentUnderTest.EnrollAsync(endpoint, Ct);
        var notAfter = agent.Identity.Identity.Certificate.NotAfter.ToUniversalTime();
        Assert.Equal(endpoint.Time.GetUtcNow().UtcDateTime.AddDays(7), notAfter);

        // Hourly until the last hour before NotAfter (at the NotAfter second itself OpenSSL's chain check already says expired).
        const int hoursBefore = (7 * 24) - 1;
        var failures = new List<string>();
        for (var hour = 1; hour <= hoursBefore; hour++)
        {
            endpoint.Time.Advance(TimeSpan.FromHours(1));
            if (await agent.HeartbeatAsync(Ct) is { } failed)
            {
                failures.Add($"hour {hour}: {failed.StatusCode}: {failed.Detail}");
            }
        }

        endpoint.Time.Advance(TimeSpan.FromHours(2));
        var refused = await agent.HeartbeatAsync(Ct);

        Assert.Empty(failures);
        Assert.NotNull(refused);
        Assert.Equal(StatusCode.Unauthenticated, refused.Value.StatusCode);
        Assert.Contains("expired", refused.Value.Detail, StringComparison.Ordinal);
        var audit = await new AuditStore(database.Database.DataSource).ListAsync(
            endpoint.Time.GetUtcNow().AddHours(-1), AuditStore.MaxLimit, $"agent:{agent.Config.HostId}", Ct);
        var row = Assert.Single(audit);
        Assert.Equal("AgentService/Connect", row.Action);
        Assert.Equal("denied: certificate expired", row.Result);
        Assert.Equal(agent.Config.HostId, row.Target);
        Print($"{hoursBefore} heartbeats before expiry, 0 failed; at day 7 + 1 h: {refused.Value.StatusCode} \"{refused.Value.Detail}\"; audited {row.Action} {row.Result}");
    }

    /// <summary>
    /// Lets the renewer do what it decides for the certificate in use: while its decision is Due, one
    /// <see cref="CertificateRenewer.StepAsync"/> (which renews and saves without touching the fake
    /// clock when the controller answers); NotDue means it would now only wait.
    /// </summary>
    private static async Task RenewIfDueAsync(AgentUnderTest agent, int hour)
    {
        for (var attempt = 0; agent.Decision.State == RenewalState.Due; attempt++)
        {
            Assert.True(attempt < 2, $"hour {hour}: the certificate is still due for renewal after {attempt} renewals: {string.Join(" | ", agent.RenewerLog.Messages)}");
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            deadline.CancelAfter(RenewalDeadline);
            try
            {
                await agent.Renewer.StepAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                Assert.Fail($"hour {hour}: renewal did not finish within {RenewalDeadline} (it failed and is backing off): {string.Join(" | ", agent.RenewerLog.Messages)}");
            }
        }

        Assert.Equal(RenewalState.NotDue, agent.Decision.State);
    }

    private static string Serial(AgentUnderTest agent) => FleetCertificateAuthority.SerialOf(agent.Identity.Identity.Certificate);

    private async Task<List<string>> RecordedSerialsAsync(string hostId)
    {
        await using var cmd = database.Database.DataSource.CreateCommand("SELECT serial FROM host_certificates WHERE host_id = $1 ORDER BY issued_at");
        cmd.Parameters.AddWithValue(hostId);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        var serials = new List<string>();
        while (await reader.ReadAsync(Ct))
        {
            serials.Add(reader.GetString(0));
        }

        return serials;
    }
}
