using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Sources;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// The controller's real FleetService and AgentService behind the real access interceptor, on
/// Kestrel (HTTP/2 cleartext, 127.0.0.1, a random port), over a real PostgreSQL database and a
/// real RabbitMQ virtual host. No Orleans silo: the calls under test reach no grain.
/// </summary>
internal sealed class FleetApiServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly GrpcChannel channel;

    private FleetApiServer(WebApplication app, string address)
    {
        this.app = app;
        channel = GrpcChannel.ForAddress(address);
        Fleet = new FleetService.FleetServiceClient(channel);
        Agent = new AgentService.AgentServiceClient(channel);
    }

    public FleetService.FleetServiceClient Fleet { get; }

    public AgentService.AgentServiceClient Agent { get; }

    public static async Task<FleetApiServer> StartAsync(TestDatabase database, string? bootstrapToken, TimeProvider time, BrokerOptions? broker = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        var services = builder.Services;
        services.AddSingleton(database.DataSource);
        services.AddSingleton(time);
        services.AddSingleton(Options.Create(new FleetOptions { ApiToken = bootstrapToken }));
        // Without a broker, enrollment fails at its queue step; the access tests never get there.
        services.AddSingleton(Options.Create(broker ?? new BrokerOptions { Host = "127.0.0.1", Port = 1 }));
        services.AddSingleton<HostStore>();
        services.AddSingleton<PlanStore>();
        services.AddSingleton<EnrollmentStore>();
        services.AddSingleton<ApiTokenStore>();
        services.AddSingleton<AuditStore>();
        services.AddSingleton<ReleaseResolver>();
        services.AddSingleton<AgentAuthenticator>();
        services.AddSingleton(new SecretKeyRing(new SecretKey(RandomNumberGenerator.GetBytes(SecretKey.Length)), []));
        services.AddSingleton<SecretStore>();
        services.AddSingleton<CommandSigner>();
        services.AddSingleton<BrokerUsers>();
        services.AddSingleton<HostRemoval>();
        services.AddSingleton<HostCommandPublisher>();
        services.AddSingleton(DispatchProxy.Create<IGrainFactory, NoGrains>());
        services.AddSingleton<ApiTokenInterceptor>();
        // Detailed errors: a failing handler shows its exception in the test output.
        services.AddGrpc(o => o.EnableDetailedErrors = true).AddServiceOptions<FleetApi>(o => o.Interceptors.Add<ApiTokenInterceptor>());
        var app = builder.Build();
        app.MapGrpcService<FleetApi>();
        app.MapGrpcService<AgentApi>();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new FleetApiServer(app, address);
    }

    public static Metadata Bearer(string? token) => token is null ? [] : new Metadata { { "authorization", $"Bearer {token}" } };

    public async ValueTask DisposeAsync()
    {
        channel.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

/// <summary>An IGrainFactory for calls that must not reach a grain: any use fails the test loudly.</summary>
public class NoGrains : DispatchProxy
{
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        throw new InvalidOperationException($"these tests reach no grain, but {targetMethod?.Name} was called");
}
