using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Sources;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// The controller's real FleetService and AgentService behind the real access interceptor, on
/// Kestrel (127.0.0.1, random ports: HTTP/2 cleartext as the CLI's loopback endpoint, and TLS with
/// the fleet's server certificate as the agents' endpoint), over a real PostgreSQL database and a
/// real RabbitMQ virtual host. No Orleans silo: the calls under test reach no grain.
/// </summary>
internal sealed class FleetApiServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly GrpcChannel channel;
    private readonly GrpcChannel tlsChannel;

    private FleetApiServer(WebApplication app, string address, string tlsAddress)
    {
        this.app = app;
        channel = GrpcChannel.ForAddress(address);
        Fleet = new FleetService.FleetServiceClient(channel);
        var ca = app.Services.GetRequiredService<FleetCertificateAuthority>().CaCertificate;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is X509Certificate2 server && Security.TestAgentEndpoint.ChainsTo(server, ca);
        tlsChannel = GrpcChannel.ForAddress(tlsAddress, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        Agent = new AgentService.AgentServiceClient(tlsChannel);
    }

    /// <summary>One key for every server of the run: several servers over one database must open each other's secrets (the fleet CA).</summary>
    private static readonly SecretKey TestSecretKey = new(RandomNumberGenerator.GetBytes(SecretKey.Length));

    public FleetService.FleetServiceClient Fleet { get; }

    public AgentService.AgentServiceClient Agent { get; }

    /// <param name="grains">For calls that reach a grain (a test double of it); null = any grain call fails the test.</param>
    public static async Task<FleetApiServer> StartAsync(
        TestDatabase database, string? bootstrapToken, TimeProvider time, BrokerOptions? broker = null, IGrainFactory? grains = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseFleetTls();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                listen.UseHttps();
            });
        });
        var services = builder.Services;
        services.AddSingleton(database.DataSource);
        services.AddSingleton(time);
        services.AddSingleton(Options.Create(new FleetOptions { ApiToken = bootstrapToken }));
        // Without a broker, enrollment fails at its queue step; the access tests never get there.
        services.AddSingleton(Options.Create(broker ?? new BrokerOptions { Host = "127.0.0.1", Port = 1 }));
        services.AddSingleton<HostStore>();
        services.AddSingleton<HeartbeatWriter>();
        services.AddSingleton<TenantStore>();
        services.AddSingleton<TenantMoveStore>();
        services.AddSingleton<PlanStore>();
        services.AddSingleton<DriftStore>();
        services.AddSingleton<EnrollmentStore>();
        services.AddSingleton<ApiTokenStore>();
        services.AddSingleton<AuditStore>();
        services.AddSingleton<ReleaseResolver>();
        services.AddSingleton<ReleaseStore>();
        services.AddSingleton<ReleaseBuilder>();
        services.AddSingleton<RolloutStore>();
        services.AddSingleton<EventStore>();
        services.AddSingleton(new SecretKeyRing(TestSecretKey, []));
        services.AddSingleton<SecretStore>();
        services.AddSingleton<CommandSigner>();
        services.AddSingleton<BrokerUsers>();
        services.AddSingleton<HostRemoval>();
        services.AddSingleton<HostCommandPublisher>();
        services.AddSingleton(grains ?? DispatchProxy.Create<IGrainFactory, NoGrains>());
        services.AddSingleton<ApiTokenInterceptor>();
        services.AddOptions<ClusterSettings>();
        services.AddFleetSecurity(builder.Configuration);
        // Detailed errors: a failing handler shows its exception in the test output.
        services.AddGrpc(o => o.EnableDetailedErrors = true).AddServiceOptions<FleetApi>(o => o.Interceptors.Add<ApiTokenInterceptor>());
        var app = builder.Build();
        app.MapGrpcService<FleetApi>();
        app.MapGrpcService<AgentApi>();
        await app.Services.GetRequiredService<FleetCertificateAuthority>().InitializeAsync(TestContext.Current.CancellationToken);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new FleetApiServer(
            app, addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal)), addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal)));
    }

    public T Get<T>()
        where T : notnull => app.Services.GetRequiredService<T>();

    public static Metadata Bearer(string? token) => token is null ? [] : new Metadata { { "authorization", $"Bearer {token}" } };

    public async ValueTask DisposeAsync()
    {
        channel.Dispose();
        tlsChannel.Dispose();
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
