using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using OdooFleet.Contracts.V1;

namespace OdooFleet.FleetSim;

/// <summary>
/// One virtual agent: its own client certificate and mTLS connection to the controller (opened on
/// first use), its own applied generation and running release. Work for one host is serialized,
/// like the real agent's converge queue, so a resent converge never races the first.
/// </summary>
internal sealed class SimHost : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(60);

    private readonly Lazy<GrpcChannel> channel;
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly HashSet<string> nonces = new(StringComparer.Ordinal);
    private long reportedGeneration;

    public SimHost(string id, string name, string queue, X509Certificate2 certificate, string agentUrl, X509Certificate2 ca)
    {
        Id = id;
        Name = name;
        Queue = queue;
        Certificate = certificate;
        channel = new Lazy<GrpcChannel>(() => OpenChannel(agentUrl, certificate, ca), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public string Id { get; }

    public string Name { get; }

    public string Queue { get; }

    public X509Certificate2 Certificate { get; }

    public long ReportedGeneration => Interlocked.Read(ref reportedGeneration);

    public OdooRelease? Running { get; private set; }

    public AgentService.AgentServiceClient Client => new(channel.Value);

    /// <summary>Handles one delivery from the host's queue; false = put it back (the controller was not reachable).</summary>
    public async Task<bool> HandleAsync(ReadOnlyMemory<byte> body, ECDsa signingKey, string keyId, Counters counters, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        string? admittedNonce = null;
        try
        {
            var verdict = CommandCheck.Decide(body.Span, Id, signingKey, keyId, nonces, DateTimeOffset.UtcNow);
            if (verdict is CommandVerdict.Reject reject)
            {
                counters.CountRejected();
                await Console.Error.WriteLineAsync($"fleetsim: {Name} rejected a command: {reject.Reason}");
                return true;
            }

            var command = ((CommandVerdict.Accept)verdict).Command;
            admittedNonce = command.Nonce;
            switch (command.KindCase)
            {
                case HostCommand.KindOneofCase.Converge:
                    counters.CountConverge();
                    if (command.Converge.Generation <= ReportedGeneration)
                    {
                        counters.CountStale();
                        return true;
                    }

                    return await ConvergeAsync(counters, ct);
                case HostCommand.KindOneofCase.Stage:
                    counters.CountStage();
                    var started = Stopwatch.GetTimestamp();
                    await Client.ReportStageAsync(Reports.Staged(Id, command, Stopwatch.GetElapsedTime(started)), deadline: Deadline(), cancellationToken: ct);
                    counters.CountStageReport();
                    return true;
                default:
                    // A plan is read-only and never journaled: the benchmark sends none, and nobody waits for it here.
                    counters.CountPlan();
                    return true;
            }
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            counters.CountRpcError();
            await Console.Error.WriteLineAsync($"fleetsim: {Name}: {e.StatusCode} {e.Status.Detail}");
            // As the agent does: the command was not applied, so its redelivery must be accepted.
            if (admittedNonce is not null)
            {
                nonces.Remove(admittedNonce);
            }

            return false;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>What the agent does at start and on a converge: fetch the whole spec and, if newer than what it reported, report it applied.</summary>
    public async Task<bool> ConvergeAsync(Counters counters, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var spec = await Client.GetHostSpecAsync(new GetHostSpecRequest { HostId = Id }, deadline: Deadline(), cancellationToken: ct);
        if (spec.Generation <= ReportedGeneration)
        {
            counters.CountStale();
            return true;
        }

        var report = Reports.Converged(spec, Running, started, DateTimeOffset.UtcNow);
        await Client.ReportConvergeAsync(report, deadline: Deadline(), cancellationToken: ct);
        Running = report.RunningRelease;
        Interlocked.Exchange(ref reportedGeneration, spec.Generation);
        counters.CountConvergeReport(Stopwatch.GetTimestamp());
        return true;
    }

    /// <summary>The agent's heartbeat stream: one heartbeat, then one per interval the controller asks for, until cancelled.</summary>
    public async Task HeartbeatAsync(Counters counters, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var call = Client.Connect(cancellationToken: ct);
                while (!ct.IsCancellationRequested)
                {
                    await call.RequestStream.WriteAsync(new AgentMessage
                    {
                        Heartbeat = new Heartbeat
                        {
                            SentAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                            AppliedGeneration = ReportedGeneration,
                            RunningRelease = Running,
                        },
                    }, ct);
                    if (!await call.ResponseStream.MoveNext(ct))
                    {
                        break;
                    }

                    var interval = Math.Max(1, call.ResponseStream.Current.HeartbeatAck.HeartbeatIntervalSeconds);
                    // Jittered like the agent's, so 5,000 hosts do not beat in step.
                    await Task.Delay(TimeSpan.FromMilliseconds((interval * 1000) - RandomNumberGenerator.GetInt32(interval * 200)), ct);
                }
            }
            catch (RpcException) when (!ct.IsCancellationRequested)
            {
                counters.CountRpcError();
                await Task.Delay(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException) when (ct.IsCancellationRequested)
            {
                return;
            }
        }
    }

    public void Dispose()
    {
        if (channel.IsValueCreated)
        {
            channel.Value.Dispose();
        }

        Certificate.Dispose();
        gate.Dispose();
    }

    private static DateTime Deadline() => DateTime.UtcNow.Add(CallTimeout);

    private static GrpcChannel OpenChannel(string agentUrl, X509Certificate2 client, X509Certificate2 ca) =>
        GrpcChannel.ForAddress(agentUrl, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(30),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                SslOptions = new SslClientAuthenticationOptions
                {
                    ClientCertificates = [client],
                    LocalCertificateSelectionCallback = (_, _, _, _, _) => client,
                    RemoteCertificateValidationCallback = (_, certificate, _, _) => FleetTls.IsIssuedByFleetCa(certificate, ca),
                },
            },
        });
}
