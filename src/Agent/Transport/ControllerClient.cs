using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// gRPC clients for the configured controllers: one current endpoint, fail-over to the next on
/// error (round robin). Every call carries "authorization: Agent &lt;host_id&gt;:&lt;secret&gt;".
/// </summary>
internal sealed partial class ControllerClient : IDisposable
{
    /// <summary>Per-call deadline; gRPC checks it on the wall clock, so it is never taken from an injected TimeProvider.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<string> urls;
    private readonly GrpcChannel?[] channels;
    private readonly Metadata auth;
    private int current;

    public ControllerClient(AgentConfig config)
    {
        urls = config.ControllerUrls;
        channels = new GrpcChannel?[urls.Count];
        auth = new Metadata { { "authorization", $"Agent {config.HostId}:{config.AgentSecret}" } };
    }

    public string CurrentUrl => urls[Volatile.Read(ref current) % urls.Count];

    public Metadata Auth => auth;

    public AgentService.AgentServiceClient Client
    {
        get
        {
            var index = Volatile.Read(ref current) % urls.Count;
            lock (channels)
            {
                channels[index] ??= CreateChannel(urls[index]);
                return new AgentService.AgentServiceClient(channels[index]!);
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
                return await Client.GetHostSpecAsync(new GetHostSpecRequest { HostId = hostId }, Auth, DateTime.UtcNow + CallTimeout, ct);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Call} on {Url} failed: {Status} {Detail}")]
    public static partial void LogCallFailed(ILogger logger, string call, string url, StatusCode status, string detail);

    public static GrpcChannel CreateChannel(string url) =>
        GrpcChannel.ForAddress(url, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
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
