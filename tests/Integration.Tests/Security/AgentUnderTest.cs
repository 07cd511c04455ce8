using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Cli;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Facts;
using OdooFleet.Agent.Metrics;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;
using AgentIdentity = OdooFleet.Agent.Configuration.AgentIdentity;
using OdooFleet.Controller.Tests.Security;

namespace OdooFleet.Integration.Tests.Security;

/// <summary>
/// The real agent's transport, enrolled at a <see cref="TestAgentEndpoint"/> the way `enroll` does
/// it (CA fetched and pinned by its SHA-256, CSR from the agent's own key, the answer checked), with
/// its config and identity files in a temporary directory and the endpoint's fake clock.
/// </summary>
internal sealed class AgentUnderTest : IAsyncDisposable
{
    private readonly string directory;
    private readonly Journal journal;
    private readonly MetricsSampler metrics;
    private readonly FakeTimeProvider time;
    private bool factsSent;

    private AgentUnderTest(string directory, string configPath, AgentConfig config, IdentityHolder identity, Journal journal, FakeTimeProvider time)
    {
        this.directory = directory;
        this.journal = journal;
        this.time = time;
        metrics = new MetricsSampler(directory);
        ConfigPath = configPath;
        Config = config;
        Identity = identity;
        Controller = new ControllerClient(config, identity, time, ControllerLog);
        Renewer = new CertificateRenewer(config, configPath, identity, Controller, time, RenewerLog);
    }

    public string ConfigPath { get; }

    public AgentConfig Config { get; }

    public IdentityHolder Identity { get; }

    public ControllerClient Controller { get; }

    public CertificateRenewer Renewer { get; }

    public ListLogger<CertificateRenewer> RenewerLog { get; } = new();

    public ListLogger<ControllerClient> ControllerLog { get; } = new();

    /// <summary>The renewer's own decision for the certificate in use, at the fake now.</summary>
    public RenewalDecision Decision
    {
        get
        {
            var certificate = Identity.Identity.Certificate;
            return RenewalSchedule.Decide(certificate.NotBefore.ToUniversalTime(), certificate.NotAfter.ToUniversalTime(), time.GetUtcNow());
        }
    }

    public static async Task<AgentUnderTest> EnrollAsync(TestAgentEndpoint endpoint, CancellationToken ct)
    {
        var url = endpoint.HttpsUrl.ToString().TrimEnd('/');
        // What the operator copies from `fleet token create` (ca_sha256), parsed as `enroll --ca-sha256` does.
        var pin = FleetTrust.ParsePin(Convert.ToHexStringLower(FleetTrust.Fingerprint(endpoint.Authority.CaCertificate)));
        using var caPin = new CaPin(pin, await EnrollCommand.FetchPinnedCaAsync(url, pin, ct));
        var name = "month-" + Guid.NewGuid().ToString("N")[..10];
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        EnrollResponse response;
        string? refusal = null;
        using (var channel = ControllerClient.CreateChannel(url, EnrollCommand.PinnedTls(caPin, reason => refusal = reason)))
        {
            try
            {
                response = await new AgentService.AgentServiceClient(channel).EnrollAsync(
                    new EnrollRequest
                    {
                        Token = await endpoint.NewTokenAsync(),
                        Name = name,
                        Facts = FactCollector.Collect().ToProto(),
                        Csr = Google.Protobuf.ByteString.CopyFrom(FleetTrust.CreateCsr(key, name)),
                    },
                    deadline: DateTime.UtcNow + ControllerClient.CallTimeout,
                    cancellationToken: ct);
            }
            catch (RpcException e) when (refusal is not null)
            {
                throw new InvalidOperationException($"the agent did not trust the test controller: {refusal}", e);
            }
        }

        endpoint.Track(response.HostId);
        var verified = FleetTrust.CheckIdentity(response.Identity, pin, key, response.HostId, endpoint.Time.GetUtcNow());
        var directory = Directory.CreateTempSubdirectory("of-month-").FullName;
        var configPath = Path.Combine(directory, "etc", "agent.json");
        var config = new AgentConfig
        {
            HostId = response.HostId,
            // Only the endpoint really listening: the one the controller advertises is a placeholder here.
            ControllerUrls = [url],
            Broker = new BrokerSettings
            {
                Host = response.Broker.Host,
                Port = response.Broker.Port,
                VirtualHost = response.Broker.VirtualHost,
                Username = response.Broker.Username,
                Password = response.Broker.Password,
                Queue = response.Broker.Queue,
            },
            IdentityPath = AgentConfig.IdentityPathBeside(configPath),
            CommandSigningKey = Convert.ToBase64String(verified.CommandSigningKey),
            CommandSigningKeyId = verified.CommandSigningKeyId,
            Name = response.Name,
            EnrolledAt = endpoint.Time.GetUtcNow(),
            StateDirectory = Path.Combine(directory, "state"),
        };
        var identity = AgentIdentity.Create(key, verified.Certificate, verified.Ca);
        verified.Certificate.Dispose();
        verified.Ca.Dispose();
        await identity.SaveAsync(config.IdentityPath, ct);
        await config.SaveAsync(configPath, ct);
        Directory.CreateDirectory(config.StateDirectory);
        var journal = await Journal.OpenAsync(config.JournalPath, endpoint.Time, ct);
        var holder = new IdentityHolder(identity, new CommandVerifier(verified.CommandSigningKey, verified.CommandSigningKeyId));
        return new AgentUnderTest(directory, configPath, config, holder, journal, endpoint.Time);
    }

    /// <summary>
    /// One heartbeat as HeartbeatService sends it on its Connect stream (facts with the first one,
    /// metrics, applied generation), then the HeartbeatAck read back; null if acked, else the status.
    /// </summary>
    public async Task<Status?> HeartbeatAsync(CancellationToken ct)
    {
        var heartbeat = new Heartbeat
        {
            SentAt = ProtoMapping.Now(time),
            Metrics = metrics.Sample().ToProto(),
            AppliedGeneration = journal.Current.AppliedGeneration,
        };
        if (!factsSent)
        {
            heartbeat.Facts = FactCollector.Collect().ToProto();
        }

        try
        {
            using var call = Controller.Client.Connect(deadline: DateTime.UtcNow + ControllerClient.CallTimeout, cancellationToken: ct);
            await call.RequestStream.WriteAsync(new AgentMessage { Heartbeat = heartbeat }, ct);
            while (await call.ResponseStream.MoveNext(ct))
            {
                if (call.ResponseStream.Current.KindCase == ControllerMessage.KindOneofCase.HeartbeatAck)
                {
                    await call.RequestStream.CompleteAsync();
                    factsSent = true;
                    return null;
                }
            }

            return new Status(StatusCode.Unknown, "the controller ended the stream without a HeartbeatAck");
        }
        catch (RpcException e)
        {
            return e.Status;
        }
    }

    public ValueTask DisposeAsync()
    {
        Renewer.Dispose();
        Controller.Dispose();
        journal.Dispose();
        Identity.Verifier.Dispose();
        Identity.Identity.Dispose();
        Directory.Delete(directory, recursive: true);
        return ValueTask.CompletedTask;
    }
}
