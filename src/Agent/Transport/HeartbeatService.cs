using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Facts;
using OdooFleet.Agent.Metrics;
using OdooFleet.Agent.Profiles;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Keeps one Connect stream open: a heartbeat every N seconds (facts on the first of each
/// stream), acks down. On failure: next controller, jittered exponential backoff.
/// </summary>
internal sealed partial class HeartbeatService(
    ControllerClient controller,
    Journal journal,
    ConvergeCoordinator coordinator,
    MetricsSampler metrics,
    HostPaths paths,
    TimeProvider time,
    ILogger<HeartbeatService> logger) : BackgroundService
{
    private const int DefaultIntervalSeconds = 5;
    private int intervalSeconds = DefaultIntervalSeconds;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = Backoff.Default(time);
        while (!stoppingToken.IsCancellationRequested)
        {
            var url = controller.CurrentUrl;
            try
            {
                await RunStreamAsync(backoff, stoppingToken);
                LogStreamEnded(logger, url, "controller closed the stream");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unauthenticated or StatusCode.PermissionDenied)
            {
                LogStreamEnded(logger, url, $"{e.StatusCode}: {e.Status.Detail} (was this host removed? re-enroll with `odoofleet-agent enroll --force`)");
            }
            catch (RpcException e)
            {
                LogStreamEnded(logger, url, $"{e.StatusCode}: {e.Status.Detail} {e.Status.DebugException?.Message}".TrimEnd());
            }
            catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException)
            {
                LogStreamEnded(logger, url, e.Message);
            }

            controller.FailOver(url);
            var delay = backoff.Next();
            LogReconnecting(logger, controller.CurrentUrl, (long)delay.TotalMilliseconds);
            await Task.Delay(delay, time, stoppingToken);
        }
    }

    private async Task RunStreamAsync(Backoff backoff, CancellationToken ct)
    {
        using var streamCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var call = controller.Client.Connect(cancellationToken: streamCts.Token);
        var acks = ReadAcksAsync(call.ResponseStream, backoff, streamCts.Token);
        var first = true;
        try
        {
            while (true)
            {
                await call.RequestStream.WriteAsync(new AgentMessage { Heartbeat = BuildHeartbeat(first) }, streamCts.Token);
                first = false;
                var tick = Task.Delay(TimeSpan.FromSeconds(Volatile.Read(ref intervalSeconds)), time, streamCts.Token);
                if (await Task.WhenAny(tick, acks) == acks)
                {
                    await acks; // surfaces the stream's error, or returns when the controller ended it
                    return;
                }

                await tick;
            }
        }
        finally
        {
            await streamCts.CancelAsync();
            try
            {
                await acks;
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException)
            {
                // The reader ends with the stream; its error (if any) was already handled above.
            }
        }
    }

    private async Task ReadAcksAsync(IAsyncStreamReader<ControllerMessage> responses, Backoff backoff, CancellationToken ct)
    {
        while (await responses.MoveNext(ct))
        {
            if (responses.Current.KindCase != ControllerMessage.KindOneofCase.HeartbeatAck)
            {
                continue;
            }

            var ack = responses.Current.HeartbeatAck;
            backoff.Reset();
            if (ack.HeartbeatIntervalSeconds > 0)
            {
                Volatile.Write(ref intervalSeconds, Math.Clamp(ack.HeartbeatIntervalSeconds, 1, 300));
            }

            coordinator.OnDesiredGeneration(ack.DesiredGeneration);
        }
    }

    private Heartbeat BuildHeartbeat(bool withFacts)
    {
        var heartbeat = new Heartbeat
        {
            SentAt = ProtoMapping.Now(time),
            Metrics = metrics.Sample().ToProto(),
            AppliedGeneration = journal.Current.AppliedGeneration,
            RunningRelease = OdooProfile.RunningRelease(paths, OdooLayout.Default).ToProto(),
        };
        if (withFacts)
        {
            heartbeat.Facts = FactCollector.Collect().ToProto();
        }

        return heartbeat;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "heartbeat stream to {Url} ended: {Reason}")]
    private static partial void LogStreamEnded(ILogger logger, string url, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "reconnecting to {Url} in {DelayMs} ms")]
    private static partial void LogReconnecting(ILogger logger, string url, long delayMs);
}
