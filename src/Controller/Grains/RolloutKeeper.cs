using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Grains;

/// <summary>
/// Wakes every rollout that should be moving when this controller starts and then every minute:
/// a backstop for the reminder (e.g. a controller killed between creating a rollout and
/// registering its reminder). Waking a rollout that already moves costs one grain call.
/// </summary>
internal sealed partial class RolloutKeeper(
    RolloutStore store, IGrainFactory grains, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<RolloutKeeper> logger) : BackgroundService
{
    private static readonly TimeSpan Period = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Grain calls need the silo, which starts with the host: wait until everything runs.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            try
            {
                await started.Task.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                foreach (var id in await store.ActiveIdsAsync(stoppingToken))
                {
                    await grains.GetGrain<IRolloutGrain>(id).Wake();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogWakeFailed(logger, e.Message);
            }

            try
            {
                await Task.Delay(Period, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waking active rollouts failed, will retry: {Error}")]
    private static partial void LogWakeFailed(ILogger logger, string error);
}
