using Grpc.Core;
using Grpc.Net.Client;
using OdooFleet.Agent.Configuration;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// gRPC clients for the configured controllers: one current endpoint, fail-over to the next on
/// error (round robin). Every call carries "authorization: Agent &lt;host_id&gt;:&lt;secret&gt;".
/// </summary>
internal sealed class ControllerClient : IDisposable
{
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
