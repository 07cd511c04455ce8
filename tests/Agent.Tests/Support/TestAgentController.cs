using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Support;

/// <summary>AgentService with a canned spec, recording plan reports; checks the agent's credential.</summary>
internal sealed class FakeAgentService(string hostId, string secret) : AgentService.AgentServiceBase
{
    public HostSpec Spec { get; set; } = new() { HostId = hostId, Generation = 1, Odoo = new OdooSpec() };

    public ConcurrentQueue<PlanReport> Reports { get; } = new();

    public int SpecFetches => specFetches;

    /// <summary>Completed at the first GetHostSpec.</summary>
    public TaskCompletionSource SpecFetched { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed at the first ReportPlan.</summary>
    public TaskCompletionSource<PlanReport> Reported { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private int specFetches;

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

    private void Authenticate(ServerCallContext context)
    {
        if (context.RequestHeaders.GetValue("authorization") != $"Agent {hostId}:{secret}")
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "agent credential missing or invalid"));
        }
    }
}

/// <summary>A real gRPC server (Kestrel, HTTP/2 cleartext) on 127.0.0.1 and a random port, serving a FakeAgentService.</summary>
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

    public string Address { get; }

    public static async Task<TestAgentController> StartAsync(FakeAgentService service)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(service);
        var app = builder.Build();
        app.MapGrpcService<FakeAgentService>();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new TestAgentController(app, service, address);
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
