using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Tests.Transport;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Support;

/// <summary>
/// AgentService with a canned spec, recording plan reports; knows the caller only by its client
/// certificate (SAN URI), like the real controller. Enroll and RenewCertificate sign CSRs with the test CA.
/// </summary>
internal sealed class FakeAgentService(string hostId, TestPki pki) : AgentService.AgentServiceBase
{
    public const string Token = "oft_test-token";

    public HostSpec Spec { get; set; } = new() { HostId = hostId, Generation = 1, Odoo = new OdooSpec() };

    public ConcurrentQueue<PlanReport> Reports { get; } = new();

    /// <summary>Drift reports stored by ReportDrift, in call order; every event in them was acknowledged.</summary>
    public ConcurrentQueue<DriftReport> DriftReports { get; } = new();

    /// <summary>Serial numbers of the client certificates callers presented, in call order.</summary>
    public ConcurrentQueue<string> CallerSerials { get; } = new();

    public TimeSpan CertificateLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Files served at GET /releases/NAME to this host's certificate (release artifacts).</summary>
    public ConcurrentDictionary<string, byte[]> Artifacts { get; } = new(StringComparer.Ordinal);

    /// <summary>Stage reports stored by ReportStage, in call order.</summary>
    public ConcurrentQueue<StageReport> StageReports { get; } = new();

    /// <summary>Tenant size reports stored by ReportTenantSizes, in call order.</summary>
    public Channel<TenantSizeReport> SizeReports { get; } = Channel.CreateUnbounded<TenantSizeReport>();

    public int SpecFetches => specFetches;

    /// <summary>Completed at the first GetHostSpec.</summary>
    public TaskCompletionSource SpecFetched { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed at the first ReportPlan.</summary>
    public TaskCompletionSource<PlanReport> Reported { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int specFetches;

    public override Task<EnrollResponse> Enroll(EnrollRequest request, ServerCallContext context)
    {
        if (request.Token != Token)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "token invalid, expired or already used"));
        }

        return Task.FromResult(new EnrollResponse
        {
            HostId = hostId,
            Name = request.Name,
            Broker = new BrokerConnection { Host = "127.0.0.1", Port = 5672, Username = $"fleet-host-{hostId}", Password = "p", Queue = $"fleet.host.{hostId}" },
            Identity = pki.IdentityFor(request.Csr.ToByteArray(), hostId, DateTimeOffset.UtcNow.AddMinutes(-1), CertificateLifetime),
        });
    }

    public override Task<RenewCertificateResponse> RenewCertificate(RenewCertificateRequest request, ServerCallContext context)
    {
        Authenticate(context);
        return Task.FromResult(new RenewCertificateResponse
        {
            Identity = pki.IdentityFor(request.Csr.ToByteArray(), hostId, DateTimeOffset.UtcNow.AddMinutes(-1), CertificateLifetime),
        });
    }

    public override Task<HostSpec> GetHostSpec(GetHostSpecRequest request, ServerCallContext context)
    {
        Authenticate(context);
        Interlocked.Increment(ref specFetches);
        SpecFetched.TrySetResult();
        return Task.FromResult(Spec);
    }

    public override Task<ReportPlanResponse> ReportPlan(PlanReport request, ServerCallContext context)
    {
        Authenticate(context);
        Reports.Enqueue(request);
        Reported.TrySetResult(request);
        return Task.FromResult(new ReportPlanResponse { Accepted = true });
    }

    public override Task<ReportDriftResponse> ReportDrift(DriftReport request, ServerCallContext context)
    {
        Authenticate(context);
        if (request.HostId != hostId)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "host_id does not match the client certificate"));
        }

        DriftReports.Enqueue(request);
        return Task.FromResult(new ReportDriftResponse { AcknowledgedIds = { request.Events.Select(e => e.Id) } });
    }

    public override Task<ReportTenantSizesResponse> ReportTenantSizes(TenantSizeReport request, ServerCallContext context)
    {
        Authenticate(context);
        if (request.HostId != hostId)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "host_id does not match the client certificate"));
        }

        SizeReports.Writer.TryWrite(request);
        return Task.FromResult(new ReportTenantSizesResponse { Recorded = request.Tenants.Count });
    }

    public override Task<ReportStageResponse> ReportStage(StageReport request, ServerCallContext context)
    {
        Authenticate(context);
        StageReports.Enqueue(request);
        return Task.FromResult(new ReportStageResponse { Accepted = true });
    }

    /// <summary>True when the caller presented this host's certificate (Kestrel already checked it chains to the test CA).</summary>
    public bool IsThisHost(X509Certificate2? certificate) =>
        certificate is not null && FleetTrust.SanUris(certificate).Contains(FleetTrust.HostUriPrefix + hostId);

    private void Authenticate(ServerCallContext context)
    {
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        if (!IsThisHost(certificate))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "client certificate missing or not for this host"));
        }

        CallerSerials.Enqueue(certificate!.SerialNumber);
    }
}

/// <summary>
/// A real gRPC server (Kestrel, HTTP/2 over TLS) on 127.0.0.1 and the given port (random when 0), serving a FakeAgentService:
/// its server certificate is issued by <c>serverPki</c> (sent with that CA), and it accepts client
/// certificates from <c>clientPki</c> (when given; Enroll needs none).
/// </summary>
internal sealed class TestAgentController : IAsyncDisposable
{
    private readonly WebApplication app;

    private TestAgentController(WebApplication app, FakeAgentService service, string address)
    {
        this.app = app;
        Service = service;
        Address = address;
    }

    public FakeAgentService Service { get; }

    /// <summary>https://127.0.0.1:PORT</summary>
    public string Address { get; }

    /// <summary>https://localhost:PORT (the server certificate names both).</summary>
    public string LocalhostAddress => Address.Replace("127.0.0.1", "localhost", StringComparison.Ordinal);

    public static async Task<TestAgentController> StartAsync(FakeAgentService service, TestPki serverPki, TestPki? clientPki = null, string serverName = "localhost", int port = 0)
    {
        var serverCertificate = serverPki.IssueServer(serverName);
        var clientCa = (clientPki ?? serverPki).CaPublic;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = serverCertificate,
                ServerCertificateChain = [serverPki.CaPublic],
                ClientCertificateMode = ClientCertificateMode.AllowCertificate,
                ClientCertificateValidation = (certificate, _, _) => ChainsTo(certificate, clientCa),
            });
        }));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<FakeAgentService>();
        app.MapGet("/releases/{name}", (string name, Microsoft.AspNetCore.Http.HttpContext http) =>
            !service.IsThisHost(http.Connection.ClientCertificate)
                ? Microsoft.AspNetCore.Http.Results.StatusCode(401)
                : service.Artifacts.TryGetValue(name, out var bytes)
                    ? Microsoft.AspNetCore.Http.Results.Bytes(bytes, "application/gzip")
                    : Microsoft.AspNetCore.Http.Results.NotFound());
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestAgentController(app, service, address);
    }

    private static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain.Build(certificate))
        {
            return true;
        }

        // A CA issued by an anchor (not self-signed) ends the chain as "partial"; accept that fault alone.
        return chain.ChainElements[^1].Certificate.RawData.AsSpan().SequenceEqual(ca.RawData)
            && chain.ChainStatus.All(s => s.Status == X509ChainStatusFlags.PartialChain);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
