using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using RabbitMQ.Client;

namespace OdooFleet.Controller.Messaging;

/// <summary>
/// Sends commands to a host's own durable queue with RabbitMQ.Client: persistent messages,
/// publisher confirms, and a dead-letter exchange for what an agent rejects. Agents run
/// RabbitMQ.Client too (no MassTransit envelope on this path), so the body is the bare proto: a
/// <see cref="SignedHostCommand"/> whose command expires and carries a fresh nonce, so a copied
/// message can neither be altered nor replayed later.
/// </summary>
internal sealed partial class HostCommandPublisher(
    IOptions<BrokerOptions> options, CommandSigner signer, TimeProvider time, ILogger<HostCommandPublisher> logger) : IAsyncDisposable
{
    public const string DeadLetterExchange = "fleet.dead-letter";
    public const string DeadLetterQueue = "fleet.dead-letter";
    public const string ContentType = "application/x-protobuf";
    public static readonly string MessageType = SignedHostCommand.Descriptor.FullName;

    /// <summary>A blocked broker (memory or disk alarm) must not hold callers forever.</summary>
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(15);

    private readonly SemaphoreSlim gate = new(1, 1);
    private IConnection? connection;
    private IChannel? channel;

    /// <summary>
    /// Host queues this connection has declared: a declare is a broker round trip, and a rollout
    /// publishes to thousands of hosts. Cleared with the connection (a broker restart may have lost
    /// a queue that was not yet durable on disk).
    /// </summary>
    private readonly HashSet<string> declared = new(StringComparer.Ordinal);

    public static string QueueName(string hostId) => $"fleet.host.{hostId}";

    /// <summary>Declares the host's queue (idempotent); done at enrollment, before the host exists.</summary>
    public async Task EnsureHostQueueAsync(string hostId, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(OperationTimeout);
        var ct = timeout.Token;
        await gate.WaitAsync(ct);
        try
        {
            var ch = await GetChannelAsync(ct);
            declared.Add(await DeclareHostQueueAsync(ch, hostId, ct));
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Publishes Converge{generation}; returns once the broker has confirmed it to disk.</summary>
    public async Task SendConvergeAsync(string hostId, long generation, CancellationToken cancellation)
    {
        var command = NewCommand(hostId);
        command.Converge = new ConvergeCommand { Generation = generation };
        await PublishAsync(command, cancellation);
        LogSent(logger, "Converge", hostId, $"generation {generation}", command.CommandId);
    }

    /// <summary>Publishes Plan{request id}: the agent answers with ReportPlan.</summary>
    public async Task SendPlanAsync(string hostId, string requestId, CancellationToken cancellation)
    {
        var command = NewCommand(hostId);
        command.Plan = new PlanCommand { RequestId = requestId };
        await PublishAsync(command, cancellation);
        LogSent(logger, "Plan", hostId, $"request {requestId}", command.CommandId);
    }

    /// <summary>Publishes StageRelease: the agent prefetches the release and answers with ReportStage.</summary>
    public async Task SendStageAsync(string hostId, Domain.OdooRelease release, Domain.ReleaseArtifact artifact, string rolloutId, CancellationToken cancellation)
    {
        var command = NewCommand(hostId);
        command.Stage = new StageReleaseCommand
        {
            Release = new Contracts.V1.OdooRelease { Series = release.Series, Commit = release.Commit },
            Artifact = new Contracts.V1.ReleaseArtifact { Path = artifact.Path, Sha256 = artifact.Sha256, SizeBytes = artifact.SizeBytes },
            RolloutId = rolloutId,
        };
        await PublishAsync(command, cancellation);
        LogSent(logger, "StageRelease", hostId, release.ToString(), command.CommandId);
    }

    private HostCommand NewCommand(string hostId)
    {
        var now = time.GetUtcNow();
        return new HostCommand
        {
            CommandId = Identifiers.New("c"),
            HostId = hostId,
            IssuedAt = Timestamp.FromDateTimeOffset(now),
            ExpiresAt = Timestamp.FromDateTimeOffset(now + options.Value.CommandLifetime),
            Nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
        };
    }

    private async Task PublishAsync(HostCommand command, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(OperationTimeout);
        var ct = timeout.Token;
        var body = (await signer.SignAsync(command, ct)).ToByteArray();
        await gate.WaitAsync(ct);
        try
        {
            var ch = await GetChannelAsync(ct);
            var queue = QueueName(command.HostId);
            if (!declared.Contains(queue))
            {
                await DeclareHostQueueAsync(ch, command.HostId, ct);
                declared.Add(queue);
            }

            var props = new BasicProperties
            {
                Persistent = true,
                ContentType = ContentType,
                Type = MessageType,
                MessageId = command.CommandId,
            };
            await ch.BasicPublishAsync(exchange: "", routingKey: queue, mandatory: true, basicProperties: props, body: body, cancellationToken: ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
        {
            await ResetAsync();
            throw;
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task<string> DeclareHostQueueAsync(IChannel ch, string hostId, CancellationToken ct)
    {
        var queue = QueueName(hostId);
        await ch.QueueDeclareAsync(
            queue, durable: true, exclusive: false, autoDelete: false,
            arguments: new Dictionary<string, object?> { ["x-dead-letter-exchange"] = DeadLetterExchange },
            cancellationToken: ct);
        return queue;
    }

    private async Task<IChannel> GetChannelAsync(CancellationToken ct)
    {
        if (channel is { IsOpen: true })
        {
            return channel;
        }

        await ResetAsync();
        var o = options.Value;
        var factory = new ConnectionFactory
        {
            HostName = o.Host,
            Port = o.Port,
            VirtualHost = o.VirtualHost,
            UserName = o.Username,
            Password = o.Password,
            AutomaticRecoveryEnabled = true,
            ClientProvidedName = "odoofleet-controller/commands",
        };
        connection = await factory.CreateConnectionAsync(ct);
        channel = await connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
        await channel.ExchangeDeclareAsync(DeadLetterExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
        await channel.QueueDeclareAsync(DeadLetterQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
        await channel.QueueBindAsync(DeadLetterQueue, DeadLetterExchange, routingKey: "", cancellationToken: ct);
        return channel;
    }

    private async Task ResetAsync()
    {
        var (ch, conn) = (channel, connection);
        (channel, connection) = (null, null);
        declared.Clear();
        try
        {
            if (ch is not null)
            {
                await ch.DisposeAsync();
            }

            if (conn is not null)
            {
                await conn.DisposeAsync();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogResetFailed(logger, e.GetType().Name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ResetAsync();
        gate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sent {Kind} to host {HostId} for {What} (command {CommandId})")]
    private static partial void LogSent(ILogger logger, string kind, string hostId, string what, string commandId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing a broken broker connection failed: {Error}")]
    private static partial void LogResetFailed(ILogger logger, string error);
}
