using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Consumes this host's durable queue (declared by the controller): manual ack, prefetch 1,
/// automatic recovery. Only signed, unexpired, unreplayed commands for this host are accepted;
/// their nonce is recorded before the ack. A converge is journaled as pending before its message
/// is acked, so an agent crash after the ack still converges; a plan is read-only and goes to the
/// plan service; anything it cannot use is dead-lettered.
/// </summary>
internal sealed partial class CommandConsumer(
    AgentConfig config,
    IdentityHolder identity,
    ReplayGuard replay,
    Journal journal,
    ConvergeCoordinator coordinator,
    PlanService planner,
    StageService stager,
    RejectionReporter rejections,
    TimeProvider time,
    ILogger<CommandConsumer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var broker = config.Broker;
        var factory = new ConnectionFactory
        {
            HostName = broker.Host,
            Port = broker.Port,
            VirtualHost = broker.VirtualHost,
            UserName = broker.Username,
            Password = broker.Password,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(5),
            RequestedHeartbeat = TimeSpan.FromSeconds(30),
            ClientProvidedName = $"odoofleet-agent {config.HostId}",
        };

        var backoff = Backoff.Default(time);
        IConnection? connection = null;
        IChannel? channel = null;
        try
        {
            while (true)
            {
                try
                {
                    connection = await factory.CreateConnectionAsync(stoppingToken);
                    channel = await connection.CreateChannelAsync(cancellationToken: stoppingToken);
                    // Passive: the controller owns the queue's arguments (dead-lettering); we only check it exists.
                    await channel.QueueDeclarePassiveAsync(broker.Queue, stoppingToken);
                    await channel.BasicQosAsync(prefetchSize: 0, prefetchCount: 1, global: false, stoppingToken);
                    var consumer = new AsyncEventingBasicConsumer(channel);
                    consumer.ReceivedAsync += (_, delivery) => HandleAsync(channel, delivery, stoppingToken);
                    await channel.BasicConsumeAsync(broker.Queue, autoAck: false, consumer, stoppingToken);
                    LogConsuming(logger, broker.Queue, broker.Host, broker.Port);
                    break;
                }
                catch (Exception e) when (e is BrokerUnreachableException or OperationInterruptedException or AlreadyClosedException or IOException)
                {
                    await CloseAsync(channel, connection);
                    (channel, connection) = (null, null);
                    var delay = backoff.Next();
                    LogConnectFailed(logger, broker.Host, broker.Port, broker.Queue, e.Message, (long)delay.TotalMilliseconds);
                    await Task.Delay(delay, time, stoppingToken);
                }
            }

            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown.
        }
        finally
        {
            await CloseAsync(channel, connection);
        }
    }

    private async Task HandleAsync(IChannel channel, BasicDeliverEventArgs delivery, CancellationToken ct)
    {
        var tag = delivery.DeliveryTag;
        // The nonce recorded for this delivery, until the command's effect is taken (journaled or
        // handed off). Effects come before the ack: a failed ack then only means a redelivery that
        // the replay cache refuses, never a lost command; a failure before the effect forgets the
        // nonce so the redelivery is accepted.
        string? pendingNonce = null;
        try
        {
            var context = new CommandContext(config.HostId, journal.Current.ReportedGeneration, identity.Verifier, replay, time.GetUtcNow());
            var decision = HostCommandDecoder.Decide(delivery.Body.Span, context);
            if (decision is CommandDecision.AlreadyDone or CommandDecision.Converge or CommandDecision.Plan or CommandDecision.Stage)
            {
                (decision, pendingNonce) = await AdmitAsync(decision, ct);
            }

            switch (decision)
            {
                case CommandDecision.Reject reject:
                    LogRejected(logger, tag, delivery.BasicProperties.MessageId ?? "", reject.Reason);
                    await channel.BasicNackAsync(tag, multiple: false, requeue: false, ct);
                    rejections.Report(delivery.BasicProperties.MessageId ?? "", reject.Reason);
                    break;
                case CommandDecision.AlreadyDone done:
                    pendingNonce = null;
                    LogDuplicate(logger, tag, done.Generation, done.ReportedGeneration);
                    await channel.BasicAckAsync(tag, multiple: false, ct);
                    break;
                case CommandDecision.Converge converge:
                    await journal.MarkPendingAsync(converge.Generation, ct);
                    coordinator.Request(converge.Generation, $"queue: converge command {converge.CommandId}");
                    pendingNonce = null;
                    await channel.BasicAckAsync(tag, multiple: false, ct);
                    break;
                case CommandDecision.Plan plan:
                    planner.Enqueue(new PlanRequest(plan.RequestId, plan.IssuedAt), $"queue: plan command {plan.CommandId}");
                    pendingNonce = null;
                    await channel.BasicAckAsync(tag, multiple: false, ct);
                    break;
                case CommandDecision.Stage stage:
                    stager.Enqueue(new StageRequest(stage.CommandId, stage.Release, stage.Artifact, stage.RolloutId));
                    pendingNonce = null;
                    await channel.BasicAckAsync(tag, multiple: false, ct);
                    break;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Unacked: the broker redelivers it to the next agent start.
            await ForgetAsync(pendingNonce);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or AlreadyClosedException or OperationInterruptedException)
        {
            // Journal not writable or channel gone: never lose the message; put it back after a pause.
            LogHandleFailed(logger, tag, e.Message);
            await ForgetAsync(pendingNonce);
            await RequeueLaterAsync(channel, tag, ct);
        }
    }

    private async Task ForgetAsync(string? nonce)
    {
        if (nonce is null)
        {
            return;
        }

        try
        {
            await replay.ForgetAsync(nonce, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The redelivery will be refused as a replay; say why.
            LogForgetFailed(logger, e.Message);
        }
    }

    /// <summary>Records the command's nonce durably (before any ack); a nonce recorded meanwhile, or a full cache, rejects it.</summary>
    private async Task<(CommandDecision Decision, string? Nonce)> AdmitAsync(CommandDecision decision, CancellationToken ct)
    {
        var admission = decision switch
        {
            CommandDecision.AlreadyDone done => done.Admission,
            CommandDecision.Converge converge => converge.Admission,
            CommandDecision.Plan plan => plan.Admission,
            CommandDecision.Stage stage => stage.Admission,
            _ => throw new ArgumentOutOfRangeException(nameof(decision), decision, "only accepted commands carry a nonce"),
        };
        return await replay.TryRecordAsync(admission.Nonce, admission.KeepUntil, ct) switch
        {
            ReplayRecord.Recorded => (decision, admission.Nonce),
            ReplayRecord.Replayed => (new CommandDecision.Reject("replayed (nonce seen before)"), null),
            _ => (new CommandDecision.Reject(
                $"the replay cache holds {replay.Count} unexpired nonces (its limit); refusing new commands until some expire (is something flooding this queue?)"), null),
        };
    }

    private async Task RequeueLaterAsync(IChannel channel, ulong tag, CancellationToken ct)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5), time, ct);
            await channel.BasicNackAsync(tag, multiple: false, requeue: true, ct);
        }
        catch (Exception e) when (e is OperationCanceledException or AlreadyClosedException or OperationInterruptedException or IOException)
        {
            // The channel is gone: the broker requeues unacked messages itself.
        }
    }

    private static async Task CloseAsync(IChannel? channel, IConnection? connection)
    {
        try
        {
            if (channel is not null)
            {
                await channel.DisposeAsync();
            }

            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
        catch (Exception e) when (e is AlreadyClosedException or IOException or OperationInterruptedException)
        {
            // Closing something already broken.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "could not forget the nonce of a command that was not applied ({Error}); its redelivery will be refused as a replay, and the controller re-sends it")]
    private static partial void LogForgetFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "consuming queue {Queue} on {Host}:{Port}")]
    private static partial void LogConsuming(ILogger logger, string queue, string host, int port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "broker {Host}:{Port} queue {Queue}: {Error}; retrying in {DelayMs} ms (check broker.host/port/credentials in the agent config and that the queue exists)")]
    private static partial void LogConnectFailed(ILogger logger, string host, int port, string queue, string error, long delayMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "delivery {DeliveryTag} (message id '{MessageId}') rejected to the dead-letter exchange: {Reason}")]
    private static partial void LogRejected(ILogger logger, ulong deliveryTag, string messageId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "delivery {DeliveryTag}: generation {Generation} is already applied and reported ({Reported}); acked")]
    private static partial void LogDuplicate(ILogger logger, ulong deliveryTag, long generation, long reported);

    [LoggerMessage(Level = LogLevel.Error, Message = "delivery {DeliveryTag} will be requeued: {Error}")]
    private static partial void LogHandleFailed(ILogger logger, ulong deliveryTag, string error);
}
