using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using OdooFleet.Contracts.V1;
using OdooFleet.SystemTests.Infrastructure;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace OdooFleet.SystemTests;

/// <summary>
/// Attacks on the real stack (two controllers, RabbitMQ, enrolled test hosts), each of which must
/// fail closed and leave an audit entry: missing, foreign and revoked client certificates, a host
/// speaking for another, a host's broker user reading another host's queue, spent tokens, forged,
/// tampered and replayed commands, and a viewer starting a rollout.
/// </summary>
[Collection(StackGroup.Name)]
public sealed class SecurityTests(LiveFleet stack)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AgentCall_WithoutClientCertificate_RefusedAndAudited()
    {
        var (_, _, pin) = await VirtualAgent.NewTokenAsync();
        var th1 = await HostIdAsync("th1");
        using var channel = await VirtualAgent.ChannelAsync(pin, client: null);
        var client = new AgentService.AgentServiceClient(channel);

        var status = await VirtualAgent.StatusOfAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest { HostId = th1 }, deadline: Deadline()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, status.StatusCode);
        await AssertAuditedAsync(e => Action(e) == "AgentService/GetHostSpec" && Result(e).StartsWith("denied", StringComparison.Ordinal), "GetHostSpec without a certificate");
    }

    [Fact]
    public async Task AgentCall_CertificateFromAnotherCa_RefusedAndAudited()
    {
        var (_, _, pin) = await VirtualAgent.NewTokenAsync();
        var th1 = await HostIdAsync("th1");
        using var forged = ForgeClientCertificate(th1);
        using var channel = await VirtualAgent.ChannelAsync(pin, forged);
        var client = new AgentService.AgentServiceClient(channel);

        var status = await VirtualAgent.StatusOfAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest { HostId = th1 }, deadline: Deadline()).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, status.StatusCode);
        await AssertAuditedAsync(
            e => Action(e) == "AgentService/GetHostSpec" && Result(e).StartsWith("denied", StringComparison.Ordinal) && Actor(e).Contains(th1, StringComparison.Ordinal),
            "GetHostSpec with a certificate from another CA naming th1");
    }

    [Fact]
    public async Task EnrolledHost_Removed_CertificateAndBrokerUserStopWorkingAtOnce()
    {
        using var agent = await VirtualAgent.EnrollAsync($"sec-rm-{Suffix()}");
        var (client, channel) = await agent.ClientAsync();
        using (channel)
        {
            var spec = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, deadline: Deadline(), cancellationToken: Ct);
            Assert.Equal(agent.HostId, spec.HostId);
            await using (var conn = await BrokerAsAsync(agent.Response.Broker))
            await using (var ch = await conn.CreateChannelAsync(cancellationToken: Ct))
            {
                await ch.QueueDeclarePassiveAsync(agent.Response.Broker.Queue, Ct);
            }

            var removed = await LiveFleet.FleetAsync("host", "remove", agent.HostId, "--yes");
            Assert.True(removed.ExitCode == 0, removed.Describe());

            var after = await VirtualAgent.StatusOfAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, deadline: Deadline()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, after.StatusCode);
        }

        await Assert.ThrowsAnyAsync<Exception>(async () => await BrokerAsAsync(agent.Response.Broker));
        await AssertAuditedAsync(e => Action(e) == "RemoveHost" && Result(e) == "ok", "the removal");
        await AssertAuditedAsync(
            e => Action(e) == "AgentService/GetHostSpec" && Result(e).StartsWith("denied", StringComparison.Ordinal) && Actor(e).Contains(agent.HostId, StringComparison.Ordinal),
            "the removed host's call");
    }

    [Fact]
    public async Task Host_ReportingAsAnotherHost_PermissionDeniedAndAudited()
    {
        var th1 = await HostIdAsync("th1");
        using var agent = await VirtualAgent.EnrollAsync($"sec-a-{Suffix()}");
        try
        {
            var (client, channel) = await agent.ClientAsync();
            using (channel)
            {
                var report = new ConvergeReport { HostId = th1, Generation = 999_999, Success = true };
                var status = await VirtualAgent.StatusOfAsync(() => client.ReportConvergeAsync(report, deadline: Deadline()).ResponseAsync);
                Assert.Equal(StatusCode.PermissionDenied, status.StatusCode);

                var fetch = await VirtualAgent.StatusOfAsync(() => client.GetHostSpecAsync(new GetHostSpecRequest { HostId = th1 }, deadline: Deadline()).ResponseAsync);
                Assert.Equal(StatusCode.PermissionDenied, fetch.StatusCode);
            }

            var th1Row = await LiveFleet.FleetJsonAsync("host", "show", "th1");
            Assert.NotEqual(999_999, th1Row.GetProperty("appliedGeneration").GetInt64());
            await AssertAuditedAsync(
                e => Action(e) == "AgentService/ReportConverge" && Result(e).StartsWith("denied", StringComparison.Ordinal) && Actor(e).Contains(agent.HostId, StringComparison.Ordinal),
                "a host reporting for th1");
        }
        finally
        {
            await LiveFleet.FleetAsync("host", "remove", agent.HostId, "--yes");
        }
    }

    [Fact]
    public async Task HostBrokerUser_AnotherHostsQueue_RefusedByRabbitMq()
    {
        var th1Queue = $"fleet.host.{await HostIdAsync("th1")}";
        using var agent = await VirtualAgent.EnrollAsync($"sec-mq-{Suffix()}");
        try
        {
            await using var conn = await BrokerAsAsync(agent.Response.Broker);

            var consume = await Assert.ThrowsAnyAsync<OperationInterruptedException>(async () =>
            {
                await using var ch = await conn.CreateChannelAsync(cancellationToken: Ct);
                await ch.BasicGetAsync(th1Queue, autoAck: false, Ct);
            });
            Assert.Equal((ushort)403, consume.ShutdownReason?.ReplyCode);

            var publish = await Assert.ThrowsAnyAsync<OperationInterruptedException>(async () =>
            {
                await using var ch = await conn.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), Ct);
                await ch.BasicPublishAsync("", th1Queue, mandatory: false, basicProperties: new BasicProperties(), body: "x"u8.ToArray(), cancellationToken: Ct);
            });
            Assert.Equal((ushort)403, publish.ShutdownReason?.ReplyCode);

            await using var own = await conn.CreateChannelAsync(cancellationToken: Ct);
            await own.QueueDeclarePassiveAsync(agent.Response.Broker.Queue, Ct);
        }
        finally
        {
            await LiveFleet.FleetAsync("host", "remove", agent.HostId, "--yes");
        }
    }

    [Theory]
    [InlineData("reused", "already been used")]
    [InlineData("expired", "expired")]
    [InlineData("revoked", "revoked")]
    public async Task Enroll_SpentToken_RefusedAndAudited(string kind, string reason)
    {
        var (token, id, pin) = await VirtualAgent.NewTokenAsync();
        string? first = null;
        switch (kind)
        {
            case "reused":
                using (var agent = await VirtualAgent.EnrollAsync($"sec-t1-{Suffix()}", token, pin))
                {
                    first = agent.HostId;
                }

                break;
            case "expired":
                // Time passing, without waiting for it: the token's expiry is moved into the past.
                await using (var cmd = stack.Db.CreateCommand("UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE id = $1"))
                {
                    cmd.Parameters.AddWithValue(id);
                    Assert.Equal(1, await cmd.ExecuteNonQueryAsync(Ct));
                }

                break;
            default:
                var revoke = await LiveFleet.FleetAsync("token", "revoke", id);
                Assert.True(revoke.ExitCode == 0, revoke.Describe());
                break;
        }

        var name = $"sec-t2-{Suffix()}";
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var status = await VirtualAgent.StatusOfAsync(() => VirtualAgent.EnrollRawAsync(token, pin, name, VirtualAgent.CreateCsr(key, name)));

        Assert.Equal(StatusCode.PermissionDenied, status.StatusCode);
        Assert.Contains(reason, status.Detail, StringComparison.Ordinal);
        var hosts = await LiveFleet.FleetJsonAsync("hosts");
        Assert.DoesNotContain(hosts.EnumerateArray(), h => h.GetProperty("name").GetString() == name);
        await AssertAuditedAsync(e => Action(e) == "Enroll" && Result(e).StartsWith("denied", StringComparison.Ordinal) && Target(e) == name, $"the {kind} token");
        if (first is not null)
        {
            await LiveFleet.FleetAsync("host", "remove", first, "--yes");
        }
    }

    [Fact]
    public async Task Enroll_TokenBoundToAnotherName_Refused()
    {
        var bound = $"sec-bound-{Suffix()}";
        var (token, _, pin) = await VirtualAgent.NewTokenAsync("--name", bound);
        var name = $"sec-other-{Suffix()}";
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var status = await VirtualAgent.StatusOfAsync(() => VirtualAgent.EnrollRawAsync(token, pin, name, VirtualAgent.CreateCsr(key, name)));

        Assert.Equal(StatusCode.PermissionDenied, status.StatusCode);
        Assert.Contains(bound, status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostCommand_ForgedTamperedReplayed_RefusedByTheAgentAndAudited()
    {
        const string Host = "th2";
        var hostId = await HostIdAsync(Host);
        var queue = $"fleet.host.{hostId}";
        var factory = new ConnectionFactory { HostName = "127.0.0.1", VirtualHost = "/odoofleet", UserName = "odoofleet", Password = stack.Secrets["OF_MQ_PASSWORD"] };
        await using var conn = await factory.CreateConnectionAsync(Ct);
        await using var ch = await conn.CreateChannelAsync(cancellationToken: Ct);

        // A genuine signed command, captured off the queue while the agent is stopped.
        await LiveFleet.OnHostAsync(Host, "systemctl", "stop", "odoofleet-agent");
        BasicGetResult genuine;
        try
        {
            await ch.QueuePurgeAsync(queue, Ct);
            var plan = await LiveFleet.FleetAsync("host", "plan", Host, "--timeout", "1s");
            Assert.Equal(3, plan.ExitCode);
            genuine = await Eventually.UntilAsync(() => ch.BasicGetAsync(queue, autoAck: true, Ct), m => m is not null, TimeSpan.FromSeconds(30), "the plan command on the host's queue");
        }
        finally
        {
            await LiveFleet.OnHostAsync(Host, "systemctl", "start", "odoofleet-agent");
        }

        Assert.Equal("fleet.v1.SignedHostCommand", genuine.BasicProperties.Type);
        var signed = SignedHostCommand.Parser.ParseFrom(genuine.Body.ToArray());
        Assert.False(signed.Signature.IsEmpty);

        var tampered = signed.Clone();
        var bytes = signed.Command.ToByteArray();
        bytes[^1] ^= 0x01;
        tampered.Command = ByteString.CopyFrom(bytes);

        using var attackerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = signed.Clone();
        forged.Signature = ByteString.CopyFrom(attackerKey.SignData(signed.Command.ToByteArray(), HashAlgorithmName.SHA256));

        var unsigned = signed.Clone();
        unsigned.Signature = ByteString.Empty;

        var suffix = Suffix();
        var original = $"sec-orig-{suffix}";
        await ch.QueuePurgeAsync("fleet.dead-letter", Ct);
        await PublishAsync(ch, queue, original, signed.ToByteArray());
        // The genuine one is taken (the queue drains) and not refused; only then is it replayed.
        await Eventually.UntilAsync(async () => (await ch.QueueDeclarePassiveAsync(queue, Ct)).MessageCount, n => n == 0, TimeSpan.FromSeconds(60), "the agent taking the genuine command");
        var attacks = new Dictionary<string, byte[]>
        {
            [$"sec-replay-{suffix}"] = signed.ToByteArray(),
            [$"sec-tamper-{suffix}"] = tampered.ToByteArray(),
            [$"sec-forged-{suffix}"] = forged.ToByteArray(),
            [$"sec-unsigned-{suffix}"] = unsigned.ToByteArray(),
        };
        foreach (var (id, body) in attacks)
        {
            await PublishAsync(ch, queue, id, body);
        }

        var dead = new HashSet<string>();
        await Eventually.UntilAsync(
            async () =>
            {
                while (await ch.BasicGetAsync("fleet.dead-letter", autoAck: true, Ct) is { } m)
                {
                    dead.Add(m.BasicProperties.MessageId ?? "");
                }

                return dead;
            },
            d => attacks.Keys.All(d!.Contains),
            TimeSpan.FromSeconds(60),
            "every forged, tampered, unsigned and replayed command dead-lettered");
        Assert.DoesNotContain(original, dead);
        foreach (var id in attacks.Keys)
        {
            await AssertAuditedAsync(
                e => Action(e) == "HostCommandRejected" && Target(e).Contains(id, StringComparison.Ordinal) && Actor(e).Contains(hostId, StringComparison.Ordinal),
                $"the agent's refusal of {id}");
        }

        Assert.Equal("active", (await LiveFleet.OnHostAsync(Host, "systemctl", "is-active", "odoofleet-agent")).Stdout.Trim());
    }

    [Fact]
    public async Task Rollout_ViewerToken_RefusedAndAudited()
    {
        var name = $"sec-viewer-{Suffix()}";
        var created = await LiveFleet.FleetJsonAsync("apitoken", "create", "--name", name, "--role", "viewer");
        var token = created.GetProperty("token").GetString()!;
        LiveFleet.RememberSecret(token);

        var hosts = await LiveFleet.FleetWithTokenAsync(token, "hosts");
        Assert.True(hosts.ExitCode == 0, hosts.Describe());
        var rollout = await LiveFleet.FleetWithTokenAsync(token, "rollout", "--version", "18.0");

        Assert.Equal(5, rollout.ExitCode);
        Assert.Contains("operator", rollout.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(token, rollout.Stdout + rollout.Stderr, StringComparison.Ordinal);
        await AssertAuditedAsync(e => Action(e) == "StartRollout" && Result(e).StartsWith("denied", StringComparison.Ordinal) && Actor(e).Contains(name, StringComparison.Ordinal), "the viewer's rollout");
        var revoked = await LiveFleet.FleetAsync("apitoken", "revoke", name);
        Assert.True(revoked.ExitCode == 0, revoked.Describe());
        Assert.Equal(5, (await LiveFleet.FleetWithTokenAsync(token, "hosts")).ExitCode);
    }

    private static async Task PublishAsync(IChannel ch, string queue, string messageId, byte[] body)
    {
        var props = new BasicProperties { Persistent = true, MessageId = messageId, ContentType = "application/x-protobuf", Type = "fleet.v1.SignedHostCommand" };
        await ch.BasicPublishAsync("", queue, mandatory: true, basicProperties: props, body: body, cancellationToken: Ct);
    }

    private static Task<IConnection> BrokerAsAsync(BrokerConnection broker) =>
        new ConnectionFactory
        {
            HostName = "127.0.0.1",
            Port = broker.Port,
            VirtualHost = broker.VirtualHost,
            UserName = broker.Username,
            Password = broker.Password,
            AutomaticRecoveryEnabled = false,
        }.CreateConnectionAsync(Ct);

    /// <summary>A client certificate that claims to be <paramref name="hostId"/>, signed by a CA the fleet never saw.</summary>
    private static X509Certificate2 ForgeClientCertificate(string hostId)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=OdooFleet fleet CA odoofleet", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hostId}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri($"urn:odoofleet:host:{hostId}"));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var leaf = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(7), RandomNumberGenerator.GetBytes(16));
        using var withKey = leaf.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private static async Task<string> HostIdAsync(string name) =>
        (await LiveFleet.FleetJsonAsync("host", "show", name)).GetProperty("id").GetString()!;

    private static async Task AssertAuditedAsync(Func<JsonElement, bool> match, string what) =>
        await Eventually.UntilAsync<JsonElement[]>(async () => await VirtualAgent.AuditAsync(), entries => entries!.Any(match), TimeSpan.FromSeconds(30), $"an audit entry for {what}");

    private static string Action(JsonElement e) => e.GetProperty("action").GetString() ?? "";

    private static string Result(JsonElement e) => e.GetProperty("result").GetString() ?? "";

    private static string Actor(JsonElement e) => e.GetProperty("actor").GetString() ?? "";

    private static string Target(JsonElement e) => e.GetProperty("target").GetString() ?? "";

    private static string Suffix() => Guid.NewGuid().ToString("N")[..8];

    private static DateTime Deadline() => DateTime.UtcNow.AddSeconds(30);
}
