using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;
using RabbitMQ.Client;

namespace OdooFleet.SystemTests;

/// <summary>Bad input at every entry point, and a host that stops talking.</summary>
[Collection(StackGroup.Name)]
public sealed class EdgeTests(LiveFleet stack)
{
    private const string AgentEndpoint = "https://10.231.0.1:7001";
    private static readonly string AgentBinary = "/opt/odoofleet/agent/odoofleet-agent";

    [Fact]
    public async Task Rollout_UnknownSeries_RefusedNamingAvailableSeries()
    {
        var r = await LiveFleet.FleetAsync("rollout", "--version", "99.0");

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("99.0", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("17.0, 18.0", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rollout_MalformedVersion_RejectedAsUsageError()
    {
        var r = await LiveFleet.FleetAsync("rollout", "--version", "eighteen");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--version", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_UnreachableController_SaysSoWithExitCode4()
    {
        var r = await LiveFleet.FleetAsync("--controller", "http://127.0.0.1:9", "hosts");

        Assert.Equal(4, r.ExitCode);
        Assert.Contains("127.0.0.1:9", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown", "not valid")]
    [InlineData("expired", "expired")]
    [InlineData("used", "already been used")]
    public async Task Enroll_BadToken_RefusedWithReasonAndNoHostCreated(string kind, string expected)
    {
        var created = await LiveFleet.FleetJsonAsync("token", "create", "--ttl", "10m");
        var pin = created.GetProperty("caSha256").GetString()!;
        var token = "oft_" + new string('x', 52);
        if (kind != "unknown")
        {
            token = created.GetProperty("token").GetString()!;
            var sql = kind == "expired"
                ? "UPDATE enrollment_tokens SET expires_at = now() - interval '1 minute' WHERE used_at IS NULL AND expires_at > now()"
                : "UPDATE enrollment_tokens SET used_at = now(), used_by_host = 'h-test' WHERE used_at IS NULL AND expires_at > now()";
            await using var cmd = stack.Db.CreateCommand(sql);
            await cmd.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        var hostsBefore = (await LiveFleet.FleetJsonAsync("hosts")).GetArrayLength();
        var config = Path.Combine(Path.GetTempPath(), $"agent-{Guid.NewGuid():N}.json");
        var r = await Proc.RunAsync(
            AgentBinary, ["enroll", "--controller", AgentEndpoint, "--token", token, "--ca-sha256", pin, "--name", "probe", "--config", config], TimeSpan.FromMinutes(1));

        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(expected, r.Stdout + r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(token, r.Stdout + r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(config));
        Assert.Equal(hostsBefore, (await LiveFleet.FleetJsonAsync("hosts")).GetArrayLength());
    }

    [Fact]
    public async Task HostQueue_MalformedMessage_DeadLetteredAndAgentKeepsWorking()
    {
        var th1 = (await LiveFleet.FleetJsonAsync("host", "show", "th1"));
        var queue = $"fleet.host.{th1.GetProperty("id").GetString()}";
        var factory = new ConnectionFactory
        {
            HostName = "127.0.0.1",
            VirtualHost = "/odoofleet",
            UserName = "odoofleet",
            Password = stack.Secrets["OF_MQ_PASSWORD"],
        };
        await using var conn = await factory.CreateConnectionAsync(TestContext.Current.CancellationToken);
        await using var ch = await conn.CreateChannelAsync(cancellationToken: TestContext.Current.CancellationToken);
        await ch.QueuePurgeAsync("fleet.dead-letter", TestContext.Current.CancellationToken);
        var marker = $"garbage-{Guid.NewGuid():N}";
        var props = new BasicProperties { Persistent = true, MessageId = marker, ContentType = "application/x-protobuf" };
        await ch.BasicPublishAsync("", queue, mandatory: true, basicProperties: props, body: "\xff\x00not a protobuf"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken);

        var dead = await Eventually.UntilAsync(
            () => ch.BasicGetAsync("fleet.dead-letter", autoAck: true),
            m => m is not null,
            TimeSpan.FromSeconds(60),
            "the malformed message reaching fleet.dead-letter");

        Assert.Equal(marker, dead.BasicProperties.MessageId);
        Assert.Equal("active", (await LiveFleet.OnHostAsync("th1", "systemctl", "is-active", "odoofleet-agent")).Stdout.Trim());
        await Eventually.UntilAsync(
            () => LiveFleet.FleetJsonAsync("host", "show", "th1"),
            h => h.GetProperty("state").GetString() == "online",
            TimeSpan.FromSeconds(30),
            "th1 online after the malformed message");
    }

    [Fact]
    public async Task Host_AgentStopped_GoesOfflineThenOnlineAgain()
    {
        await LiveFleet.OnHostAsync("th3", "systemctl", "stop", "odoofleet-agent");
        try
        {
            await Eventually.UntilAsync(
                () => LiveFleet.FleetJsonAsync("host", "show", "th3"),
                h => h.GetProperty("state").GetString() == "offline",
                TimeSpan.FromSeconds(60),
                "th3 reported offline");
        }
        finally
        {
            await LiveFleet.OnHostAsync("th3", "systemctl", "start", "odoofleet-agent");
        }

        var back = await Eventually.UntilAsync(
            () => LiveFleet.FleetJsonAsync("host", "show", "th3"),
            h => h.GetProperty("state").GetString() == "online",
            TimeSpan.FromSeconds(60),
            "th3 online again");
        Assert.True(back.GetProperty("metrics").GetProperty("memoryTotalBytes").GetInt64() > 0);
    }
}
