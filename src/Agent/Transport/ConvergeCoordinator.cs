using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Runs converges one at a time (a channel with one reader). A request for a generation at or
/// below the one running or queued coalesces into it: the converge always fetches the latest spec.
/// Each converge: fetch spec → cache it → apply → journal → report (retried until acknowledged
/// or superseded) → journal "reported".
/// </summary>
internal sealed partial class ConvergeCoordinator(
    AgentConfig config,
    ControllerClient controller,
    Journal journal,
    LocalConverger converger,
    TenantSizeReporter tenantSizes,
    TimeProvider time,
    ILogger<ConvergeCoordinator> logger) : BackgroundService
{
    private static readonly TimeSpan FailedRetryDelay = TimeSpan.FromSeconds(60);

    private readonly ConvergeQueue queue = new();
    private readonly Lock gate = new();
    private long lastFailedGeneration;
    private DateTimeOffset lastFailedAt;

    public bool IsBusy => queue.IsBusy;

    /// <summary>Asks for a converge of at least <paramref name="generation"/>; false if it coalesced into one running or queued.</summary>
    public bool Request(long generation, string reason)
    {
        if (!queue.Request(generation))
        {
            return false;
        }

        LogRequested(logger, generation, reason);
        return true;
    }

    /// <summary>The heartbeat's safety net: converge if the controller wants more than we applied, unless a failure of it is recent.</summary>
    public void OnDesiredGeneration(long desired)
    {
        if (desired <= journal.Current.AppliedGeneration || IsBusy)
        {
            return;
        }

        lock (gate)
        {
            if (desired == lastFailedGeneration && time.GetUtcNow() - lastFailedAt < FailedRetryDelay)
            {
                return;
            }
        }

        Request(desired, "heartbeat: desired generation is ahead of applied");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (journal.CorruptCopy is { } aside)
        {
            logger.LogWarning("journal was unreadable and was moved to {Path}; starting from an empty journal", aside);
        }

        await RecoverTransitionAsync(stoppingToken);
        var owed = journal.Current.RecoveryGeneration();
        if (owed > 0)
        {
            Request(owed, "journal: converge was pending or not reported before the agent stopped");
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            long generation;
            try
            {
                generation = await queue.TakeAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await ConvergeAsync(generation, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // One converge going wrong must not stop the agent; the journal makes it retry.
                logger.LogError(e, "converge of generation {Generation} failed unexpectedly", generation);
                RememberFailure(generation);
            }
            finally
            {
                queue.Complete();
            }
        }
    }

    private async Task ConvergeAsync(long requested, CancellationToken ct)
    {
        var spec = await controller.FetchSpecAsync(config.HostId, time, logger, ct);
        var host = spec.ToDomain();
        if (host.Generation < requested)
        {
            logger.LogWarning(
                "controller served generation {Served} but {Requested} was requested; converging what it served", host.Generation, requested);
        }

        await SpecCache.SaveAsync(config.SpecCachePath, spec, ct);

        LocalConvergeResult result;
        while (true)
        {
            try
            {
                result = await converger.RunAsync(host, ConvergeMode.Apply, ct);
                break;
            }
            catch (ConvergeBusyException e)
            {
                logger.LogWarning("{Message}", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), time, ct);
            }
        }

        await journal.RecordConvergeAsync(
            new LastConverge
            {
                Generation = host.Generation,
                Success = result.Success,
                Reported = false,
                StartedAt = result.StartedAt,
                FinishedAt = result.FinishedAt,
                Error = result.Error,
                RunningRelease = result.RunningRelease?.ToString(),
                Results = result.Outcome.Results
                    .Select(r => new JournalResult(r.Id, r.Kind, r.Status, r.Message, (long)r.Duration.TotalMilliseconds)).ToList(),
            },
            ct);
        LogConverged(logger, host.Generation, result.Success, result.Error ?? "");
        if (!result.Success)
        {
            RememberFailure(host.Generation);
        }

        var report = ProtoMapping.ToReport(
            config.HostId, host.Generation, result.Outcome, result.StartedAt, result.FinishedAt, result.RunningRelease, result.Error);
        if (result.Transition is { } transition)
        {
            report.Transition = transition.ToProto();
        }

        if (await ReportAsync(report, ct))
        {
            await journal.RecordReportedAsync(host.Generation, ct);
        }

        // A new tenant's database exists now: its size need not wait for the next interval.
        if (result.Outcome.Results.Any(r => r.Kind == "odoo-database" && r.Status == Engine.ResourceStatus.Changed))
        {
            tenantSizes.MeasureSoon($"generation {host.Generation} created or extended a tenant database");
        }
    }


    /// <summary>
    /// A release transition the agent was killed in is reverted before anything else; its generation
    /// is then converged again (pending), which finds the journaled REVERTED and reports it.
    /// </summary>
    private async Task RecoverTransitionAsync(CancellationToken ct)
    {
        while (true)
        {
            try
            {
                if (await converger.RecoverAsync(ct) is { } recovered)
                {
                    LogTransitionRecovered(logger, recovered.Generation, recovered.From, recovered.Outcome?.ToString() ?? "", recovered.Reason ?? "");
                    await journal.MarkPendingAsync(recovered.Generation, ct);
                }

                return;
            }
            catch (ConvergeBusyException e)
            {
                logger.LogWarning("{Message}", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(5), time, ct);
            }
            catch (InvalidDataException e)
            {
                logger.LogError("{Message}", e.Message);
                return;
            }
        }
    }

    /// <summary>Delivers the report; false if a newer generation superseded it first (that converge reports instead).</summary>
    private async Task<bool> ReportAsync(ConvergeReport report, CancellationToken ct)
    {
        var backoff = Backoff.Default(time);
        while (true)
        {
            if (queue.Queued > report.Generation)
            {
                return false;
            }

            var url = controller.CurrentUrl;
            try
            {
                var response = await controller.Client.ReportConvergeAsync(
                    report, deadline: DateTime.UtcNow + ControllerClient.CallTimeout, cancellationToken: ct);
                if (!response.Accepted)
                {
                    // The controller has a newer view (e.g. a newer generation); retrying would not change its mind.
                    logger.LogWarning("controller did not accept the report of generation {Generation}", report.Generation);
                }

                return true;
            }
            catch (RpcException e) when (!ct.IsCancellationRequested)
            {
                ControllerClient.LogCallFailed(logger, "ReportConverge", url, e.StatusCode, e.Status.Detail);
                if (ControllerClient.IsTransient(e))
                {
                    controller.FailOver(url);
                }

                await backoff.DelayAsync(ct);
            }
        }
    }

    private void RememberFailure(long generation)
    {
        lock (gate)
        {
            lastFailedGeneration = generation;
            lastFailedAt = time.GetUtcNow();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "converge of generation {Generation} requested: {Reason}")]
    private static partial void LogRequested(ILogger logger, long generation, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "release transition of generation {Generation} from {From} was interrupted by an agent stop: {Outcome} ({Reason})")]
    private static partial void LogTransitionRecovered(ILogger logger, long generation, string from, string outcome, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "generation {Generation} converged: success={Success} {Error}")]
    private static partial void LogConverged(ILogger logger, long generation, bool success, string error);

}
