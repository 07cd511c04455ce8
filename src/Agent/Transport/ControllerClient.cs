using System.Net.Security;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// gRPC clients for the configured controllers: one current endpoint, fail-over to the next on
/// error (round robin). Mutual TLS: the host's client certificate proves who it is, and only a
/// server certificate issued by the fleet CA for the URL's host name is accepted.
/// </summary>
internal sealed partial class ControllerClient : IDisposable
{
    /// <summary>Per-call deadline; gRPC checks it on the wall clock, so it is never taken from an injected TimeProvider.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<string> urls;
    private readonly GrpcChannel?[] channels;
    private readonly IdentityHolder identity;
    private readonly TimeProvider time;
    private readonly ILogger logger;
    private int current;

    public ControllerClient(AgentConfig config, IdentityHolder identity, TimeProvider time, ILogger<ControllerClient> logger)
    {
        urls = config.ControllerUrls;
        channels = new GrpcChannel?[urls.Count];
        this.identity = identity;
        this.time = time;
        this.logger = logger;
    }

    public string CurrentUrl => urls[Volatile.Read(ref current) % urls.Count];

    public AgentService.AgentServiceClient Client
    {
        get
        {
            var index = Volatile.Read(ref current) % urls.Count;
            lock (channels)
            {
                channels[index] ??= CreateChannel(urls[index], MutualTls(identity, time, reason => LogServerRefused(logger, urls[index], reason)));
                return new AgentService.AgentServiceClient(channels[index]!);
            }
        }
    }

    /// <summary>
    /// After a renewal: drops every channel, so the next call opens connections that present the new
    /// certificate (pooled connections would keep presenting the old one). Calls in flight fail as
    /// cancelled, which callers treat as transient and retry.
    /// </summary>
    public void ResetChannels()
    {
        lock (channels)
        {
            for (var i = 0; i < channels.Length; i++)
            {
                channels[i]?.Dispose();
                channels[i] = null;
            }
        }
    }

    /// <summary>Moves to the next controller if <paramref name="failedUrl"/> is still the current one.</summary>
    public void FailOver(string failedUrl)
    {
        var index = Volatile.Read(ref current);
        if (urls[index % urls.Count] == failedUrl)
        {
            Interlocked.CompareExchange(ref current, (index + 1) % urls.Count, index);
        }
    }

    /// <summary>
    /// The host's whole spec, asked of the controllers in turn until one answers: transient errors
    /// fail over and back off; a refusal (invalid, not allowed, removed) is thrown, since asking again
    /// would be refused again.
    /// </summary>
    public async Task<HostSpec> FetchSpecAsync(string hostId, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        var backoff = Backoff.Default(time);
        while (true)
        {
            var url = CurrentUrl;
            try
            {
                return await Client.GetHostSpecAsync(new GetHostSpecRequest { HostId = hostId }, deadline: DateTime.UtcNow + CallTimeout, cancellationToken: ct);
            }
            catch (RpcException e) when (!ct.IsCancellationRequested)
            {
                LogCallFailed(logger, "GetHostSpec", url, e.StatusCode, e.Status.Detail);
                if (!IsTransient(e))
                {
                    throw;
                }

                FailOver(url);
                await backoff.DelayAsync(ct);
            }
        }
    }

    /// <summary>
    /// Sends one report to the controllers in turn: transient errors fail over and back off; a refusal
    /// ends it, since the same report would be refused again. False when refused or out of attempts.
    /// </summary>
    public async Task<bool> ReportAsync(
        string call, Func<AgentService.AgentServiceClient, DateTime, CancellationToken, Task> send, ILogger logger, CancellationToken ct, int maxAttempts = int.MaxValue)
    {
        var backoff = Backoff.Default(time);
        for (var attempt = 1; ; attempt++)
        {
            var url = CurrentUrl;
            try
            {
                await send(Client, DateTime.UtcNow + CallTimeout, ct);
                return true;
            }
            catch (RpcException e) when (!ct.IsCancellationRequested)
            {
                LogCallFailed(logger, call, url, e.StatusCode, e.Status.Detail);
                if (!IsTransient(e) || attempt >= maxAttempts)
                {
                    return false;
                }

                FailOver(url);
                await backoff.DelayAsync(ct);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Call} on {Url} failed: {Status} {Detail}")]
    public static partial void LogCallFailed(ILogger logger, string call, string url, StatusCode status, string detail);

    /// <summary>
    /// TLS for the agent's own calls: the current client certificate (read at each handshake, so a
    /// renewed one is used by new connections) and a server check against the current fleet CA.
    /// </summary>
    public static SslClientAuthenticationOptions MutualTls(IdentityHolder identity, TimeProvider time, Action<string> refused) => new()
    {
        LocalCertificateSelectionCallback = (_, _, _, _, _) => identity.Identity.Certificate,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (FleetTrust.CheckServer(identity.Identity.Ca, certificate, chain, errors, time.GetUtcNow()) is not { } reason)
            {
                return true;
            }

            refused(reason);
            return false;
        },
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "controller {Url} is not trusted: {Reason}; check the URL, or that its server certificate is issued by the fleet CA for that host name")]
    private static partial void LogServerRefused(ILogger logger, string url, string reason);

    public static GrpcChannel CreateChannel(string url, SslClientAuthenticationOptions tls) =>
        GrpcChannel.ForAddress(url, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = tls,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.Always,
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                EnableMultipleHttp2Connections = true,
            },
            MaxReceiveMessageSize = 16 * 1024 * 1024,
        });

    /// <summary>Errors worth trying another controller for (as opposed to "you are not allowed").</summary>
    public static bool IsTransient(RpcException e) =>
        e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal
            or StatusCode.Unknown or StatusCode.ResourceExhausted or StatusCode.Aborted or StatusCode.Cancelled;

    public void Dispose()
    {
        lock (channels)
        {
            foreach (var channel in channels)
            {
                channel?.Dispose();
            }
        }
    }
}
