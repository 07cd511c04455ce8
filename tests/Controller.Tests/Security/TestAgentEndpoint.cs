using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Security;
using OdooFleet.Controller.Tests.Persistence;
using RabbitMQ.Client;
using HostFacts = OdooFleet.Contracts.V1.HostFacts;

namespace OdooFleet.Controller.Tests.Security;

/// <summary>
/// The controller's agent side as production wires it (Kestrel with the fleet TLS defaults from
/// https:// and http:// URLs, the real AgentApi, stores on a real PostgreSQL, queues on the real
/// RabbitMQ), without Orleans and FleetService. The clock is a <see cref="FakeTimeProvider"/>.
/// </summary>
internal sealed class TestAgentEndpoint : IAsyncDisposable
{
    public const string MqEnvironmentVariable = "OF_TEST_MQ";

    private readonly WebApplication app;
    private readonly BrokerOptions broker;
    private readonly List<string> enrolledHosts = [];

    private TestAgentEndpoint(WebApplication app, BrokerOptions broker, FakeTimeProvider time, Uri https, Uri http)
    {
        this.app = app;
        this.broker = broker;
        Time = time;
        HttpsUrl = https;
        HttpUrl = http;
    }

    public FakeTimeProvider Time { get; }

    public Uri HttpsUrl { get; }

    public Uri HttpUrl { get; }

    public FleetCertificateAuthority Authority => app.Services.GetRequiredService<FleetCertificateAuthority>();

    public T Get<T>()
        where T : notnull => app.Services.GetRequiredService<T>();

    /// <summary>Starts the endpoint; queues and host users go to <paramref name="broker"/> (a scratch vhost), or to OF_TEST_MQ's vhost.</summary>
    public static async Task<TestAgentEndpoint> StartAsync(TestDatabase database, SecretKey secretKey, FakeTimeProvider time, BrokerOptions? broker = null)
    {
        broker ??= BrokerFromEnvironment();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Test", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:ClusterId"] = "test-cluster",
            ["Fleet:AgentEndpoints:0"] = "https://127.0.0.1:7001",
        });
        builder.WebHost.UseUrls("https://127.0.0.1:0", "http://127.0.0.1:0");
        // Production reads this from appsettings.json (Kestrel:EndpointDefaults:Protocols).
        builder.WebHost.ConfigureKestrel(k => k.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2));
        builder.WebHost.UseFleetTls();

        var services = builder.Services;
        services.AddOptions<FleetOptions>().Bind(builder.Configuration.GetSection(FleetOptions.Section));
        services.AddOptions<ClusterSettings>().Bind(builder.Configuration.GetSection(ClusterSettings.Section));
        services.AddSingleton(Options.Create(broker));
        services.AddSingleton(database.DataSource);
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton(new SecretKeyRing(secretKey, []));
        services.AddSingleton<SecretStore>();
        services.AddSingleton<HostStore>();
        services.AddSingleton<HeartbeatWriter>();
        services.AddSingleton<TenantStore>();
        services.AddSingleton<TenantMoveStore>();
        services.AddSingleton<PlanStore>();
        services.AddSingleton<DriftStore>();
        services.AddSingleton<RolloutStore>();
        services.AddSingleton<AuditStore>();
        services.AddSingleton<EnrollmentStore>();
        services.AddSingleton<HostCommandPublisher>();
        services.AddSingleton<CommandSigner>();
        services.AddSingleton<BrokerUsers>();
        services.AddFleetSecurity(builder.Configuration);
        services.AddGrpc();

        var app = builder.Build();
        app.MapGrpcService<AgentApi>();
        app.MapFleetCaCertificate();
        await app.Services.GetRequiredService<FleetCertificateAuthority>().InitializeAsync(CancellationToken.None);
        await app.StartAsync();

        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new TestAgentEndpoint(
            app, broker, time,
            new Uri(addresses.Single(a => a.StartsWith("https://", StringComparison.Ordinal))),
            new Uri(addresses.Single(a => a.StartsWith("http://", StringComparison.Ordinal))));
    }

    /// <summary>A gRPC client over TLS that trusts only the fleet CA and presents <paramref name="clientCertificate"/> (if any).</summary>
    public (AgentService.AgentServiceClient Client, GrpcChannel Channel) Client(X509Certificate2? clientCertificate) =>
        Client(HttpsUrl, clientCertificate);

    public (AgentService.AgentServiceClient Client, GrpcChannel Channel) Client(Uri url, X509Certificate2? clientCertificate)
    {
        var ca = Authority.CaCertificate;
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is X509Certificate2 server && ChainsTo(server, ca);
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        var channel = GrpcChannel.ForAddress(url, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        return (new AgentService.AgentServiceClient(channel), channel);
    }

    /// <summary>A single-use enrollment token valid for an hour of the fake clock.</summary>
    public async Task<string> NewTokenAsync()
    {
        var token = Identifiers.NewSecret("oft");
        var now = Time.GetUtcNow();
        await Get<EnrollmentStore>().CreateTokenAsync(Identifiers.New("t"), Identifiers.Hash(token), now, now.AddHours(1), CancellationToken.None);
        return token;
    }

    /// <summary>Enrolls a new host over HTTPS as an agent would: fresh P-256 key, CSR, token.</summary>
    public async Task<EnrolledAgent> EnrollAsync(CancellationToken ct)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var (client, channel) = Client(null);
        using (channel)
        {
            var response = await client.EnrollAsync(new EnrollRequest
            {
                Token = await NewTokenAsync(),
                Name = "h" + Guid.NewGuid().ToString("N")[..12],
                Facts = new HostFacts { Hostname = "test" },
                Csr = Google.Protobuf.ByteString.CopyFrom(Csr(key)),
            }, cancellationToken: ct);
            Track(response.HostId);
            return new EnrolledAgent(response, key, WithKey(response.Identity.Certificate.ToByteArray(), key));
        }
    }

    /// <summary>Queues of hosts enrolled by tests are deleted when the endpoint is disposed.</summary>
    public void Track(string hostId) => enrolledHosts.Add(hostId);

    public static byte[] Csr(ECDsa key, string subject = "CN=anything the agent likes") =>
        new CertificateRequest(subject, key, HashAlgorithmName.SHA256).CreateSigningRequest();

    public static X509Certificate2 WithKey(byte[] der, ECDsa key)
    {
        using var certificate = X509CertificateLoader.LoadCertificate(der);
        return certificate.CopyWithPrivateKey(key);
    }

    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca, DateTimeOffset? at = null)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.VerificationTime = (at ?? DateTimeOffset.UtcNow).UtcDateTime;
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(certificate);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        if (enrolledHosts.Count == 0)
        {
            return;
        }

        var factory = new ConnectionFactory
        {
            HostName = broker.Host,
            Port = broker.Port,
            VirtualHost = broker.VirtualHost,
            UserName = broker.Username,
            Password = broker.Password,
        };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        foreach (var hostId in enrolledHosts)
        {
            await channel.QueueDeleteAsync(HostCommandPublisher.QueueName(hostId));
        }
    }

    private static BrokerOptions BrokerFromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(MqEnvironmentVariable);
        if (string.IsNullOrWhiteSpace(text) || !Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "amqp")
        {
            throw new InvalidOperationException(
                $"{MqEnvironmentVariable} is not set to an amqp:// URL: enrollment declares the host's queue on a real RabbitMQ. " +
                $"Set e.g. {MqEnvironmentVariable}='amqp://user:password@127.0.0.1:5672/%2Fvhost'.");
        }

        var user = uri.UserInfo.Split(':', 2);
        return new BrokerOptions
        {
            Host = uri.Host,
            Port = uri.Port > 0 ? uri.Port : 5672,
            VirtualHost = uri.AbsolutePath.Length > 1 ? Uri.UnescapeDataString(uri.AbsolutePath[1..]) : "/",
            Username = Uri.UnescapeDataString(user[0]),
            Password = user.Length > 1 ? Uri.UnescapeDataString(user[1]) : "",
        };
    }
}

/// <summary>An enrolled test agent: what Enroll answered, its key and its client certificate.</summary>
internal sealed record EnrolledAgent(EnrollResponse Response, ECDsa Key, X509Certificate2 Certificate)
{
    public string HostId => Response.HostId;
}
