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

    /// <summary>
    /// Channels publishing at once over the one connection. Each waits for its own publisher
    /// confirm, so a rollout dispatching to thousands of hosts is not serialised behind one
    /// round trip at a time; a channel is used by one publisher at a time (RabbitMQ.Client's
    /// confirm tracking is not safe for concurrent publishes on one channel).
    /// </summary>
    public const int PublishChannels = 8;

    private readonly SemaphoreSlim connectGate = new(1, 1);
    private ChannelPool? pool;

    public static string QueueName(string hostId) => $"fleet.host.{hostId}";

    /// <summary>Declares the host's queue (idempotent); done at enrollment, before the host exists.</summary>
    public Task EnsureHostQueueAsync(string hostId, CancellationToken cancellation) =>
        WithChannelAsync(async (ch, p, ct) => p.Declared.TryAdd(await DeclareHostQueueAsync(ch, hostId, ct), 0), cancellation);

    /// <summary>Publishes Converge{generation}; returns once the broker has confirmed it to disk.</summary>
    public async Task SendConvergeAsync(string hostId, long generation, CancellationToken cancellation)
    {
        var command = NewCommand(hostId);
        command.Converge = new ConvergeCommand { Generation = generation };
        await PublishAsync(command, cancellation);
        LogSent(logger, "Converge", hostId, $"generation {generation}", command.CommandId);
    }

    /// <summary>
    /// <see cref="SendConvergeAsync"/> where delivery is level-based: a failure is logged, not thrown,
    /// because the spec change is already persisted and is resent (a rollout's resend, the heartbeat
    /// ack's desired generation). False if it was not sent now.
    /// </summary>
    public async Task<bool> TrySendConvergeAsync(string hostId, long generation, CancellationToken cancellation)
    {
        try
        {
            await SendConvergeAsync(hostId, generation, cancellation);
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogConvergeNotSent(logger, hostId, generation, e.Message);
            return false;
        }
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
        var body = (await signer.SignAsync(command, cancellation)).ToByteArray();
        var queue = QueueName(command.HostId);
        await WithChannelAsync(
            async (ch, p, ct) =>
            {
                // A declare is a broker round trip: once per host queue and connection (a broker
                // restart may have lost a queue that was not yet on disk, so a new connection declares again).
                if (!p.Declared.ContainsKey(queue))
                {
                    await DeclareHostQueueAsync(ch, command.HostId, ct);
                    p.Declared.TryAdd(queue, 0);
                }

                var props = new BasicProperties
                {
                    Persistent = true,
                    ContentType = ContentType,
                    Type = MessageType,
                    MessageId = command.CommandId,
                };
                await ch.BasicPublishAsync(exchange: "", routingKey: queue, mandatory: true, basicProperties: props, body: body, cancellationToken: ct);
            },
            cancellation);
    }

    /// <summary>
    /// Runs <paramref name="action"/> on a free channel of the pool (connecting first if needed),
    /// within <see cref="OperationTimeout"/>. A failure other than the caller's own cancellation
    /// closes the whole connection: the next call reconnects.
    /// </summary>
    private async Task WithChannelAsync(Func<IChannel, ChannelPool, CancellationToken, Task> action, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(OperationTimeout);
        var ct = timeout.Token;
        var p = await GetPoolAsync(ct);
        IChannel ch;
        try
        {
            ch = await p.Free.Reader.ReadAsync(ct);
        }
        catch (System.Threading.Channels.ChannelClosedException)
        {
            // Another publisher reset this connection meanwhile: take the new one.
            p = await GetPoolAsync(ct);
            ch = await p.Free.Reader.ReadAsync(ct);
        }

        try
        {
            await action(ch, p, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellation.IsCancellationRequested)
        {
            await ResetAsync(p);
            throw;
        }
        finally
        {
            // Dropped when the pool was reset meanwhile (its writer is completed).
            p.Free.Writer.TryWrite(ch);
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

    private async Task<ChannelPool> GetPoolAsync(CancellationToken ct)
    {
        if (Volatile.Read(ref pool) is { IsOpen: true } open)
        {
            return open;
        }

        await connectGate.WaitAsync(ct);
        try
        {
            if (pool is { IsOpen: true } current)
            {
                return current;
            }

            if (pool is { } broken)
            {
                pool = null;
                await DisposeQuietlyAsync(broken);
            }

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
            var connection = await factory.CreateConnectionAsync(ct);
            var created = new ChannelPool(connection);
            try
            {
                for (var i = 0; i < PublishChannels; i++)
                {
                    var channel = await connection.CreateChannelAsync(
                        new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true), ct);
                    created.Add(channel);
                }

                var first = created.First;
                await first.ExchangeDeclareAsync(DeadLetterExchange, ExchangeType.Fanout, durable: true, autoDelete: false, cancellationToken: ct);
                await first.QueueDeclareAsync(DeadLetterQueue, durable: true, exclusive: false, autoDelete: false, cancellationToken: ct);
                await first.QueueBindAsync(DeadLetterQueue, DeadLetterExchange, routingKey: "", cancellationToken: ct);
            }
            catch
            {
                await DisposeQuietlyAsync(created);
                throw;
            }

            Volatile.Write(ref pool, created);
            return created;
        }
        finally
        {
            connectGate.Release();
        }
    }

    private async Task ResetAsync(ChannelPool broken)
    {
        await connectGate.WaitAsync(CancellationToken.None);
        try
        {
            if (ReferenceEquals(pool, broken))
            {
                pool = null;
            }
        }
        finally
        {
            connectGate.Release();
        }

        await DisposeQuietlyAsync(broken);
    }

    private async Task DisposeQuietlyAsync(ChannelPool target)
    {
        try
        {
            await target.DisposeAsync();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogResetFailed(logger, e.GetType().Name);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (pool is { } p)
        {
            pool = null;
            await DisposeQuietlyAsync(p);
        }

        connectGate.Dispose();
    }

    /// <summary>One connection, its publishing channels (each handed to one publisher at a time) and the queues it declared.</summary>
    private sealed class ChannelPool(IConnection connection) : IAsyncDisposable
    {
        private readonly List<IChannel> channels = [];
        private int disposed;

        public System.Threading.Channels.Channel<IChannel> Free { get; } =
            System.Threading.Channels.Channel.CreateUnbounded<IChannel>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = false, SingleWriter = false });

        public System.Collections.Concurrent.ConcurrentDictionary<string, byte> Declared { get; } = new(StringComparer.Ordinal);

        public IChannel First => channels[0];

        public bool IsOpen => Volatile.Read(ref disposed) == 0 && connection.IsOpen;

        public void Add(IChannel channel)
        {
            channels.Add(channel);
            Free.Writer.TryWrite(channel);
        }

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 1)
            {
                return;
            }

            Free.Writer.TryComplete();
            foreach (var channel in channels)
            {
                await channel.DisposeAsync();
            }

            await connection.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sent {Kind} to host {HostId} for {What} (command {CommandId})")]
    private static partial void LogSent(ILogger logger, string kind, string hostId, string what, string commandId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Converge for host {HostId} generation {Generation} not sent now ({Error}); it will be resent")]
    private static partial void LogConvergeNotSent(ILogger logger, string hostId, long generation, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Closing a broken broker connection failed: {Error}")]
    private static partial void LogResetFailed(ILogger logger, string error);
}
