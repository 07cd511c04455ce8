using MassTransit;
using OdooFleet.Controller.Hosting;
using RabbitMQ.Client;

namespace OdooFleet.Controller.Messaging;

internal static class MessagingSetup
{
    public const string EventsExchange = "fleet.events";

    /// <summary>MassTransit over RabbitMQ for domain events; host commands use <see cref="HostCommandPublisher"/>.</summary>
    public static IServiceCollection AddFleetMessaging(this IServiceCollection services, BrokerOptions broker)
    {
        services.AddSingleton<CommandSigner>();
        services.AddSingleton<BrokerUsers>();
        services.AddSingleton<HostRemoval>();
        services.AddSingleton<HostCommandPublisher>();
        services.AddHostedService<OutboxPublisher>();
        services.AddMassTransit(x =>
        {
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(broker.Host, (ushort)broker.Port, broker.VirtualHost, h =>
                {
                    h.Username(broker.Username);
                    h.Password(broker.Password);
                });
                cfg.Message<FleetEvent>(m => m.SetEntityName(EventsExchange));
                cfg.Publish<FleetEvent>(p => p.ExchangeType = ExchangeType.Topic);
            });
        });
        return services;
    }
}
