using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>A plan request from the queue: answer <see cref="RequestId"/> while the controller still waits.</summary>
internal sealed record PlanRequest(string RequestId, DateTimeOffset IssuedAt);

/// <summary>
/// Answers `fleet host plan`: fetches the current spec, converges it in check mode (observe and
/// diff, never apply) and sends the result with ReportPlan. One plan at a time from its own
/// bounded queue. Read-only: it never writes the journal, so generations stay as converges left
/// them. While a converge holds the host-wide lock it waits and retries; a request older than
/// <see cref="MaxAge"/> has nobody waiting for it any more and is dropped.
/// </summary>
internal sealed partial class PlanService(
    AgentConfig config,
    ControllerClient controller,
    LocalConverger converger,
    TimeProvider time,
    ILogger<PlanService> logger) : BackgroundService
{
    /// <summary>The controller waits at most 10 minutes for an answer (PlanHost's longest timeout).</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);

    /// <summary>How often a plan tries the converge lock again while a converge holds it.</summary>
    public static readonly TimeSpan BusyRetryDelay = TimeSpan.FromSeconds(2);

    /// <summary>A flood of requests keeps only the newest: each answer reflects the host at that time anyway.</summary>
    private const int QueueCapacity = 16;

    private readonly Channel<PlanRequest> requests = Channel.CreateBounded<PlanRequest>(
        new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public void Enqueue(PlanRequest request, string reason)
    {
        requests.Writer.TryWrite(request);
        LogQueued(logger, request.RequestId, reason);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            PlanRequest request;
            try
            {
                request = await requests.Reader.ReadAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await AnswerAsync(request, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // One plan going wrong must not stop the agent; the caller sees a timeout.
                logger.LogError(e, "plan {RequestId} failed unexpectedly", request.RequestId);
            }
        }
    }

    /// <summary>Computes and sends the answer to one request; false if it expired first (nobody waits for it).</summary>
    public async Task<bool> AnswerAsync(PlanRequest request, CancellationToken ct)
    {
        var left = request.IssuedAt + MaxAge - time.GetUtcNow();
        if (left <= TimeSpan.Zero)
        {
            LogExpired(logger, request.RequestId, "before it was started");
            return false;
        }

        using var expiry = new CancellationTokenSource(left, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, expiry.Token);
        try
        {
            var spec = await controller.FetchSpecAsync(config.HostId, time, logger, linked.Token);
            var result = await CheckAsync(spec.ToDomain(), linked.Token);
            var report = ProtoMapping.ToPlanReport(request.RequestId, config.HostId, result);
            await SendAsync(report, linked.Token);
            LogAnswered(logger, request.RequestId, report.Generation, report.Resources.Count(r => r.Status == Contracts.V1.ResourceStatus.Changed), report.Success);
            return true;
        }
        catch (OperationCanceledException) when (expiry.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            LogExpired(logger, request.RequestId, "while it was being computed or sent");
            return false;
        }
    }

    private async Task<LocalConvergeResult> CheckAsync(DesiredHost host, CancellationToken ct)
    {
        var waited = false;
        while (true)
        {
            try
            {
                return await converger.RunAsync(host, ConvergeMode.Check, ct);
            }
            catch (ConvergeBusyException e)
            {
                if (!waited)
                {
                    LogBusy(logger, e.Message);
                    waited = true;
                }

                await Task.Delay(BusyRetryDelay, time, ct);
            }
        }
    }


    // A refused answer is not sent again (the same answer would be refused again); the log says why.
    private async Task SendAsync(PlanReport report, CancellationToken ct) =>
        await controller.ReportAsync(
            "ReportPlan",
            async (client, deadline, token) =>
            {
                var response = await client.ReportPlanAsync(report, deadline: deadline, cancellationToken: token);
                if (!response.Accepted)
                {
                    LogNotAccepted(logger, report.RequestId);
                }
            },
            logger,
            ct);

    [LoggerMessage(Level = LogLevel.Information, Message = "plan {RequestId} queued: {Reason}")]
    private static partial void LogQueued(ILogger logger, string requestId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "plan {RequestId} answered for generation {Generation}: {Changes} resource(s) would change, success={Success}")]
    private static partial void LogAnswered(ILogger logger, string requestId, long generation, int changes, bool success);

    [LoggerMessage(Level = LogLevel.Warning, Message = "plan {RequestId} dropped: it expired {When} (the controller no longer waits for it)")]
    private static partial void LogExpired(ILogger logger, string requestId, string when);

    [LoggerMessage(Level = LogLevel.Information, Message = "plan waits for the converge lock: {Reason}")]
    private static partial void LogBusy(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "plan {RequestId}: the controller did not accept the answer (request unknown, pruned or already answered)")]
    private static partial void LogNotAccepted(ILogger logger, string requestId);

}
