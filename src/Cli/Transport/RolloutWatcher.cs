using Grpc.Core;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Transport;

/// <summary>
/// Follows WatchRollout until the rollout ends. A rollout outlives any one controller process, so a
/// broken stream is reopened on the next controller with backoff instead of failing the command.
/// </summary>
internal sealed class RolloutWatcher(FleetConnection connection, CliHost host)
{
    /// <summary>Consecutive failed reconnects (no update received in between) before giving up.</summary>
    public const int MaxReconnects = 20;

    public Rollout? Last { get; private set; }

    public async Task<Rollout> WatchAsync(string id, Func<Rollout, Task> onUpdate, CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            var address = FleetConnection.Display(connection.CurrentAddress);
            string problem;
            try
            {
                using var call = connection.WatchRollout(id, cancellationToken);
                await foreach (var rollout in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    failures = 0;
                    Last = rollout;
                    await onUpdate(rollout);
                    if (RolloutView.IsFinished(rollout))
                    {
                        return rollout;
                    }
                }

                problem = "the stream ended before the rollout did";
            }
            catch (RpcException e) when (RpcErrors.IsOwnCancellation(e, cancellationToken))
            {
                throw new OperationCanceledException(e.Status.Detail, e, cancellationToken);
            }
            catch (RpcException e) when (RpcErrors.IsTransient(e) && !cancellationToken.IsCancellationRequested)
            {
                problem = RpcErrors.Detail(e);
            }
            catch (RpcException e)
            {
                throw RpcErrors.Map(e, address, connection.ApiTokenConfigured);
            }

            failures++;
            if (failures > MaxReconnects)
            {
                throw RpcErrors.Unreachable(connection.AllAddresses, $"gave up watching rollout {id} after {MaxReconnects} reconnects: {problem}");
            }

            connection.MoveToNext();
            var delay = host.ReconnectDelay(failures);
            await host.Err.WriteLineAsync(
                $"fleet: lost the watch on {address} ({problem}); reconnecting to {FleetConnection.Display(connection.CurrentAddress)} in {delay.TotalSeconds:0.#}s");
            await Task.Delay(delay, host.Time, cancellationToken);
        }
    }
}
