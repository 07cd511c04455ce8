using System.Net;
using System.Net.Sockets;
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
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Sources;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Security;
using Orleans.Configuration;
using Orleans.Hosting;
using Xunit;

namespace OdooFleet.Controller.Tests.Rollouts;

/// <summary>
/// One controller process as Program.cs wires it, in this test process: an Orleans silo clustered
/// through PostgreSQL, the real FleetService (behind the access interceptor, on plain HTTP/2) and
/// AgentService plus the release download (on TLS with the fleet certificate), over a real
/// PostgreSQL database and a real RabbitMQ virtual host. Several nodes over one database form one
/// cluster, as several controllers do.
/// </summary>
internal sealed class ControllerNode : IAsyncDisposable
{
    public const string AdminToken = "test-bootstrap-admin-token";

    /// <summary>Every node of the run opens the others' secrets (the fleet CA, the signing key).</summary>
    private static readonly SecretKey TestSecretKey = new(RandomNumberGenerator.GetBytes(SecretKey.Length));

    private readonly WebApplication app;
    private readonly Npgsql.NpgsqlDataSource dataSource;
    private readonly GrpcChannel channel;
    private bool stopped;

    private ControllerNode(WebApplication app, Npgsql.NpgsqlDataSource dataSource, string http, string https)
    {
        this.app = app;
        this.dataSource = dataSource;
        HttpsUrl = new Uri(https);
        channel = GrpcChannel.ForAddress(http);
        Fleet = new FleetService.FleetServiceClient(channel);
    }

    public FleetService.FleetServiceClient Fleet { get; }

    public Uri HttpsUrl { get; }

    public T Get<T>()
        where T : notnull => app.Services.GetRequiredService<T>();

    public static Metadata Admin => Api.FleetApiServer.Bearer(AdminToken);

    public static async Task<ControllerNode> StartAsync(
        TestDatabase database, ClusterIdentity cluster, BrokerOptions broker, string sourceUrl, string dataDirectory, int offlineAfterSeconds = 3600)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (Environment.GetEnvironmentVariable("OF_TEST_LOG") == "1")
        {
            builder.Logging.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning);
        }

        builder.WebHost.UseFleetTls();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2);
            kestrel.Listen(IPAddress.Loopback, 0, listen =>
            {
                listen.Protocols = HttpProtocols.Http1AndHttp2;
                listen.UseHttps();
            });
        });
        var services = builder.Services;
        // Its own pool, as a controller process has; disposed with the node so no idle connections pile up.
        var dataSource = database.CreateDataSource();
        services.AddSingleton(dataSource);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(Options.Create(new FleetOptions
        {
            ApiToken = AdminToken,
            SourceUrl = sourceUrl,
            DataDirectory = dataDirectory,
            OfflineAfterSeconds = offlineAfterSeconds,
            ConvergeResendSeconds = 30,
        }));
        services.AddSingleton(Options.Create(broker));
        services.AddSingleton<HostStore>();
        services.AddSingleton<HeartbeatWriter>();
        services.AddSingleton<TenantStore>();
        services.AddSingleton<TenantMoveStore>();
        services.AddSingleton<EventStore>();
        services.AddSingleton<AuditStore>();
        services.AddSingleton<PlanStore>();
        services.AddSingleton<DriftStore>();
        services.AddSingleton<EnrollmentStore>();
        services.AddSingleton<ApiTokenStore>();
        services.AddSingleton<ReleaseResolver>();
        services.AddSingleton<ReleaseStore>();
        services.AddSingleton<ReleaseBuilder>();
        services.AddSingleton<RolloutStore>();
        services.AddHostedService<RolloutKeeper>();
        services.AddSingleton(new SecretKeyRing(TestSecretKey, []));
        services.AddSingleton<SecretStore>();
        services.AddSingleton<CommandSigner>();
        services.AddSingleton<BrokerUsers>();
        services.AddSingleton<HostRemoval>();
        services.AddSingleton<HostCommandPublisher>();
        services.AddSingleton<ApiTokenInterceptor>();
        services.AddOptions<ClusterSettings>();
        services.AddFleetSecurity(builder.Configuration);
        services.AddGrpc(o => o.EnableDetailedErrors = true).AddServiceOptions<FleetApi>(o => o.Interceptors.Add<ApiTokenInterceptor>());
        builder.UseOrleans(silo =>
        {
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = cluster.ServiceId;
            });
            silo.ConfigureEndpoints(IPAddress.Loopback, FreePort(), FreePort(), listenOnAnyHostAddress: false);
            silo.UseNpgsqlClustering();
            silo.UseNpgsqlReminders();
            silo.AddNpgsqlGrainStorage("fleet");
            silo.Configure<ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
            silo.Configure<ClusterMembershipOptions>(ClusterTuning.FastFailureDetection);
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
        });

        var app = builder.Build();
        app.MapGrpcService<FleetApi>();
        app.MapGrpcService<AgentApi>();
        app.MapFleetCaCertificate();
        app.MapFleetReleases();
        await app.Services.GetRequiredService<FleetCertificateAuthority>().InitializeAsync(TestContext.Current.CancellationToken);
        await app.StartAsync(TestContext.Current.CancellationToken);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new ControllerNode(
            app, dataSource, addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal)), addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal)));
    }

    /// <summary>Enrolls a host as AgentService.Enroll records it (token spent, certificate recorded), without the broker step.</summary>
    public async Task<(string HostId, X509Certificate2 Certificate)> EnrollAsync(string name, IReadOnlyDictionary<string, string>? labels = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var now = DateTimeOffset.UtcNow;
        var tokenHash = Identifiers.Hash(Identifiers.NewSecret("oft"));
        var enrollment = Get<EnrollmentStore>();
        await enrollment.CreateTokenAsync(
            new EnrollmentTokenRecord(Identifiers.New("t"), now, now.AddHours(1), null,
                new SortedDictionary<string, string>((labels ?? new Dictionary<string, string>()).ToDictionary(), StringComparer.Ordinal), "test", null, null, null),
            tokenHash, ct);
        var hostId = Identifiers.New("h");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var issued = Get<FleetCertificateAuthority>().IssueClientCertificate(hostId, TestAgentEndpoint.Csr(key));
        var host = new HostRecord(hostId, name, "127.0.0.1", now, null, null, null, 0, null, 0, 0, null, false, "", HostCommandPublisher.QueueName(hostId));
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(tokenHash, host, issued.Record, now, "{}", _ => Task.CompletedTask, ct));
        return (hostId, TestAgentEndpoint.WithKey(issued.Der, key));
    }

    /// <summary>An HTTP client for the agent endpoint that trusts the fleet CA and presents <paramref name="certificate"/> (if any).</summary>
    public HttpClient AgentHttp(X509Certificate2? certificate)
    {
        var ca = Get<FleetCertificateAuthority>().CaCertificate;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, server, _, _) => server is X509Certificate2 s && TestAgentEndpoint.ChainsTo(s, ca);
        if (certificate is not null)
        {
            handler.SslOptions.ClientCertificates = [certificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        }

        return new HttpClient(handler) { BaseAddress = HttpsUrl };
    }

    /// <summary>An AgentService client over TLS presenting <paramref name="certificate"/>, as an agent calls.</summary>
    public (AgentService.AgentServiceClient Client, GrpcChannel Channel) AgentClient(X509Certificate2 certificate)
    {
        var ca = Get<FleetCertificateAuthority>().CaCertificate;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, server, _, _) => server is X509Certificate2 s && TestAgentEndpoint.ChainsTo(s, ca);
        handler.SslOptions.ClientCertificates = [certificate];
        handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => certificate;
        var channel = GrpcChannel.ForAddress(HttpsUrl, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        return (new AgentService.AgentServiceClient(channel), channel);
    }

    /// <summary>
    /// Abrupt stop: no grain deactivation, no hand-off (see <see cref="TestSilo.KillAsync"/>): the
    /// other node must take the rollout over from PostgreSQL through its reminder.
    /// </summary>
    public async Task KillAsync()
    {
        stopped = true;
        try
        {
            await app.StopAsync(new CancellationToken(canceled: true));
        }
        catch (OperationCanceledException)
        {
            // Cut short on purpose.
        }
    }

    public async ValueTask DisposeAsync()
    {
        channel.Dispose();
        if (!stopped)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await app.StopAsync(timeout.Token);
        }

        await app.DisposeAsync();
        await dataSource.DisposeAsync();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
