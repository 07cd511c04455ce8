using Grpc.Core;
using Grpc.Net.Client;
using OdooFleet.Cli.Configuration;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Transport;

/// <summary>
/// FleetService on one of several controllers. A call goes to the controller that answered last;
/// when it is unreachable the next one is tried, so any controller process may be down.
/// </summary>
internal sealed class FleetConnection : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly ControllerTarget target;
    private readonly GrpcChannel?[] channels;
    private readonly Metadata headers = [];
    private int current;

    public FleetConnection(ControllerTarget target)
    {
        this.target = target;
        channels = new GrpcChannel?[target.Addresses.Count];
        if (!string.IsNullOrEmpty(target.ApiToken))
        {
            headers.Add("authorization", $"Bearer {target.ApiToken}");
        }
    }

    public Uri CurrentAddress => target.Addresses[current];

    public bool ApiTokenConfigured => !string.IsNullOrEmpty(target.ApiToken);

    /// <summary>All addresses, for messages when none of them answered.</summary>
    public string AllAddresses => string.Join(", ", target.Addresses.Select(Display));

    public static string Display(Uri address) => address.GetLeftPart(UriPartial.Path).TrimEnd('/');

    /// <summary>
    /// A unary call with failover. <paramref name="idempotent"/> false: fail over only when the request
    /// provably never reached a controller, so e.g. a rollout is not started twice.
    /// <paramref name="timeout"/> replaces the default 30 s deadline for calls that wait on purpose.
    /// </summary>
    public async Task<T> CallAsync<T>(
        Func<FleetService.FleetServiceClient, CallOptions, AsyncUnaryCall<T>> call,
        bool idempotent,
        CancellationToken cancellationToken,
        TimeSpan? timeout = null)
    {
        RpcException? lastUnavailable = null;
        for (var tried = 0; tried < channels.Length; tried++)
        {
            try
            {
                // gRPC deadlines are absolute wall-clock times checked by gRPC's own clock, not ours.
                var options = new CallOptions(headers, DateTime.UtcNow + (timeout ?? CallTimeout), cancellationToken);
                return await call(Client(), options).ResponseAsync;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && (idempotent || RpcErrors.NeverSent(e)))
            {
                lastUnavailable = e;
                if (tried + 1 < channels.Length)
                {
                    MoveToNext();
                }
            }
            catch (RpcException e) when (RpcErrors.IsOwnCancellation(e, cancellationToken))
            {
                throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
            }
            catch (RpcException e)
            {
                throw RpcErrors.Map(e, Display(CurrentAddress), ApiTokenConfigured);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The channel reports DEADLINE_EXCEEDED, ours or the controller's own, as a bare
                // cancellation (ThrowOperationCanceledOnCancellation): a deadline, not the user's Ctrl+C.
                throw new CliException(ExitCodes.Timeout, $"controller at {Display(CurrentAddress)} did not answer in time");
            }
        }

        throw channels.Length == 1
            ? RpcErrors.Map(lastUnavailable!, Display(CurrentAddress), ApiTokenConfigured)
            : RpcErrors.Unreachable(AllAddresses, RpcErrors.Detail(lastUnavailable!));
    }

    /// <summary>A long-lived server stream on the current controller, without deadline.</summary>
    public AsyncServerStreamingCall<Rollout> WatchRollout(string id, CancellationToken cancellationToken) =>
        Client().WatchRollout(new GetRolloutRequest { Id = id }, new CallOptions(headers, cancellationToken: cancellationToken));

    public void MoveToNext() => current = (current + 1) % channels.Length;

    public void Dispose()
    {
        foreach (var channel in channels)
        {
            channel?.Dispose();
        }
    }

    private FleetService.FleetServiceClient Client()
    {
        var channel = channels[current] ??= GrpcChannel.ForAddress(CurrentAddress, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = ConnectTimeout,
                EnableMultipleHttp2Connections = true,
                // Notices a controller that vanished without closing the connection (host crash, network cut).
                KeepAlivePingDelay = TimeSpan.FromSeconds(20),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            },
            DisposeHttpClient = true,
            ThrowOperationCanceledOnCancellation = true,
        });
        return new FleetService.FleetServiceClient(channel);
    }
}
