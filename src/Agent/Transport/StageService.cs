using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

internal sealed record StageRequest(string CommandId, ReleaseRef Release, ReleaseArtifactRef? Artifact, string? RolloutId);

/// <summary>
/// Answers StageReleaseCommand: downloads (or clones) a release and builds its venv without switching,
/// one at a time, under the host's converge lock (never beside a converge of the same directory), and
/// reports with ReportStage. Idempotent: a release already in place is reported at once (already_staged).
/// Staging is an optimisation: a lost command only means the converge stages by itself.
/// </summary>
internal sealed partial class StageService(
    AgentConfig config,
    ControllerClient controller,
    LocalConverger converger,
    TimeProvider time,
    ILogger<StageService> logger) : BackgroundService
{
    public static readonly TimeSpan BusyRetryDelay = TimeSpan.FromSeconds(5);

    private readonly Channel<StageRequest> requests = Channel.CreateBounded<StageRequest>(
        new BoundedChannelOptions(16) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public void Enqueue(StageRequest request)
    {
        requests.Writer.TryWrite(request);
        LogQueued(logger, request.CommandId, request.Release.DirectoryName);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            StageRequest request;
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
                logger.LogError(e, "stage {CommandId} failed unexpectedly", request.CommandId);
            }
        }
    }

    public async Task AnswerAsync(StageRequest request, CancellationToken ct)
    {
        var started = time.GetTimestamp();
        // What the host's spec says about sources (clone URL, host wheelhouse); none before the first converge.
        string sourceUrl = "";
        string? wheelhouse = null;
        if (File.Exists(config.SpecCachePath))
        {
            try
            {
                var odoo = (await SpecCache.LoadAsync(config.SpecCachePath, ct)).ToDomain().Odoo;
                (sourceUrl, wheelhouse) = (odoo.SourceUrl, odoo.Wheelhouse);
            }
            catch (InvalidDataException e)
            {
                logger.LogWarning("stage {CommandId}: cached spec unreadable ({Error}); staging without it", request.CommandId, e.Message);
            }
        }

        (bool AlreadyStaged, string? Error) outcome;
        while (true)
        {
            try
            {
                outcome = await converger.StageAsync(request.Release, request.Artifact, sourceUrl, wheelhouse, ct);
                break;
            }
            catch (ConvergeBusyException)
            {
                await Task.Delay(BusyRetryDelay, time, ct);
            }
        }

        var report = new StageReport
        {
            HostId = config.HostId,
            CommandId = request.CommandId,
            Release = request.Release.ToProto(),
            Success = outcome.Error is null,
            Error = outcome.Error ?? "",
            DurationMs = (long)time.GetElapsedTime(started).TotalMilliseconds,
            AlreadyStaged = outcome.AlreadyStaged,
        };
        LogStaged(logger, request.CommandId, request.Release.DirectoryName, report.Success, report.AlreadyStaged, report.Error);
        await controller.ReportAsync(
            "ReportStage",
            async (client, deadline, token) => await client.ReportStageAsync(report, deadline: deadline, cancellationToken: token),
            logger,
            ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "stage {CommandId} of {Release} queued")]
    private static partial void LogQueued(ILogger logger, string commandId, string release);

    [LoggerMessage(Level = LogLevel.Information, Message = "stage {CommandId} of {Release}: success={Success} already_staged={AlreadyStaged} {Error}")]
    private static partial void LogStaged(ILogger logger, string commandId, string release, bool success, bool alreadyStaged, string error);
}
