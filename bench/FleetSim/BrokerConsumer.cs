using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OdooFleet.FleetSim;

/// <summary>
/// Consumes every virtual host's command queue. The one shortcut of the simulator: real agents
/// each log in as their own broker user (5,000 hosts = 5,000 AMQP connections); here the stack's
/// admin broker user consumes all the queues over a few connections and channels. Each delivery
/// is still verified and answered as the host it was addressed to.
/// </summary>
internal sealed class BrokerConsumer(ConnectionFactory factory, int connections, int channelsPerConnection) : IAsyncDisposable
{
    private readonly List<IConnection> open = [];
    private readonly List<IChannel> channels = [];

    public async Task StartAsync(IReadOnlyList<SimHost> hosts, SigningKey signing, Counters counters, CancellationToken ct)
    {
        factory.ConsumerDispatchConcurrency = 32;
        for (var c = 0; c < connections; c++)
        {
            var connection = await factory.CreateConnectionAsync($"odoofleet-fleetsim/{c}", ct);
            open.Add(connection);
            for (var k = 0; k < channelsPerConnection; k++)
            {
                var channel = await connection.CreateChannelAsync(cancellationToken: ct);
                await channel.BasicQosAsync(0, 256, false, ct);
                channels.Add(channel);
            }
        }

        var byQueue = hosts.ToDictionary(h => h.Queue, StringComparer.Ordinal);
        var slots = channels.Select(ch => (Channel: ch, Hosts: new List<SimHost>())).ToList();
        for (var i = 0; i < hosts.Count; i++)
        {
            slots[i % slots.Count].Hosts.Add(hosts[i]);
        }

        await Parallel.ForEachAsync(slots, ct, async (slot, token) =>
        {
            var consumer = new AsyncEventingBasicConsumer(slot.Channel);
            consumer.ReceivedAsync += async (_, delivery) =>
            {
                if (!byQueue.TryGetValue(delivery.RoutingKey, out var host))
                {
                    counters.CountRejected();
                    await slot.Channel.BasicNackAsync(delivery.DeliveryTag, false, requeue: false, ct);
                    return;
                }

                // The body belongs to the broker's buffer only until this handler returns.
                var body = delivery.Body.ToArray();
                bool done;
                try
                {
                    done = await host.HandleAsync(body, signing.Key, signing.KeyId, counters, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    return;
                }

                if (done)
                {
                    await slot.Channel.BasicAckAsync(delivery.DeliveryTag, false, ct);
                }
                else
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
                    await slot.Channel.BasicNackAsync(delivery.DeliveryTag, false, requeue: true, ct);
                }
            };
            foreach (var host in slot.Hosts)
            {
                await slot.Channel.BasicConsumeAsync(host.Queue, autoAck: false, consumer, token);
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in channels)
        {
            await channel.DisposeAsync();
        }

        foreach (var connection in open)
        {
            await connection.DisposeAsync();
        }
    }
}
