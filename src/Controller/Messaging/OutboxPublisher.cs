using MassTransit;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Messaging;

/// <summary>Forwards events from the events table (the outbox) to RabbitMQ through MassTransit.</summary>
internal sealed partial class OutboxPublisher(
    EventStore events, IBus bus, TimeProvider time, ILogger<OutboxPublisher> logger) : BackgroundService
{
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var sent = await events.PublishPendingAsync(100, PublishAsync, time.GetUtcNow(), stoppingToken);
                failures = 0;
                if (sent > 0)
                {
                    continue;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                failures++;
                LogPublishFailed(logger, failures, e.Message);
            }

            var delay = failures == 0 ? Idle : TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(failures, 5)));
            try
            {
                await Task.Delay(delay, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task PublishAsync(IReadOnlyList<StoredEvent> batch, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(PublishTimeout);
        foreach (var e in batch)
        {
            await bus.Publish(
                new FleetEvent(e.Id, e.OccurredAt, e.Type, e.Subject, e.DataJson),
                context => context.SetRoutingKey(e.Type),
                timeout.Token);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing events to RabbitMQ failed ({Failures} in a row), will retry: {Error}")]
    private static partial void LogPublishFailed(ILogger logger, int failures, string error);
}
