using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Drift;

/// <summary>
/// Sends the drift journal's unacknowledged events with AgentService.ReportDrift, oldest first, in
/// batches, and marks what the controller acknowledged. While the controller is unreachable it
/// retries with the agent's jittered backoff; drift is corrected locally meanwhile and the events
/// wait in the journal (across restarts) until a controller stores them. Resending is harmless:
/// event ids are the idempotency keys.
/// </summary>
internal sealed partial class DriftReporter(
    AgentConfig config, ControllerClient controller, DriftJournal journal, TimeProvider time, ILogger<DriftReporter> logger) : BackgroundService
{
    public const int BatchSize = 100;

    /// <summary>Also look at the journal this often without a new event (events left after a refusal).</summary>
    public static readonly TimeSpan IdleRecheck = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = Backoff.Default(time);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var added = journal.NextAddition;
                var pending = journal.Unacknowledged(BatchSize);
                if (pending.Count == 0)
                {
                    await Task.WhenAny(added, Task.Delay(IdleRecheck, time, stoppingToken));
                    stoppingToken.ThrowIfCancellationRequested();
                    continue;
                }

                if (await SendAsync(pending, stoppingToken))
                {
                    backoff.Reset();
                }
                else
                {
                    await backoff.DelayAsync(stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping; what is not acknowledged stays in the journal for the next start.
        }
    }

    /// <summary>One ReportDrift call; true if the controller acknowledged at least one of the events.</summary>
    public async Task<bool> SendAsync(IReadOnlyList<DriftEvent> events, CancellationToken ct)
    {
        var url = controller.CurrentUrl;
        var report = new Proto.DriftReport { HostId = config.HostId, Events = { events.Select(ToProto) } };
        try
        {
            var response = await controller.Client.ReportDriftAsync(report, deadline: DateTime.UtcNow + ControllerClient.CallTimeout, cancellationToken: ct);
            var sent = events.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
            var acknowledged = response.AcknowledgedIds.Where(sent.Contains).ToList();
            await journal.AcknowledgeAsync(acknowledged, ct);
            LogReported(logger, events.Count, acknowledged.Count);
            return acknowledged.Count > 0;
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            ControllerClient.LogCallFailed(logger, "ReportDrift", url, e.StatusCode, e.Status.Detail);
            if (ControllerClient.IsTransient(e))
            {
                controller.FailOver(url);
            }

            // Refused or unreachable: the events stay; the caller backs off and sends them again.
            return false;
        }
    }

    /// <summary>The wire form of a drift event (the drift boundary's one mapping; the policy is mapped in ProtoMapping).</summary>
    public static Proto.DriftEvent ToProto(DriftEvent e) => new()
    {
        Id = e.Id,
        ResourceId = e.ResourceId,
        Kind = e.Kind,
        Generation = e.Generation,
        Expected = e.Expected,
        Actual = e.Actual,
        Diff = e.Diff,
        Trigger = e.Trigger,
        DetectedAt = Timestamp.FromDateTimeOffset(e.DetectedAt),
        Action = e.Action switch
        {
            DriftAction.Corrected => Proto.DriftAction.Corrected,
            DriftAction.Reported => Proto.DriftAction.Reported,
            DriftAction.Suppressed => Proto.DriftAction.Suppressed,
            DriftAction.Flapping => Proto.DriftAction.Flapping,
            DriftAction.Failed => Proto.DriftAction.Failed,
            _ => Proto.DriftAction.Unspecified,
        },
        CorrectedAt = e.CorrectedAt is { } at ? Timestamp.FromDateTimeOffset(at) : null,
        Recurred = e.Recurred,
        Error = e.Error ?? "",
        Accept = { e.Accept.Select(p => new Proto.SpecPatch { Path = p.Path, Value = p.Value }) },
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "drift report: {Sent} event(s) sent, {Acknowledged} acknowledged")]
    private static partial void LogReported(ILogger logger, int sent, int acknowledged);
}
