using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Drift;

/// <summary>AgentService.ReportDrift served by a real gRPC server (Kestrel, HTTP/2) that stores and acknowledges events.</summary>
internal sealed class DriftStore(string hostId, string secret) : Proto.AgentService.AgentServiceBase
{
    public ConcurrentQueue<Proto.DriftReport> Reports { get; } = new();

    public override Task<Proto.ReportDriftResponse> ReportDrift(Proto.DriftReport request, ServerCallContext context)
    {
        if (context.RequestHeaders.GetValue("authorization") != $"Agent {hostId}:{secret}" || request.HostId != hostId)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "agent credential missing or invalid"));
        }

        Reports.Enqueue(request);
        return Task.FromResult(new Proto.ReportDriftResponse { AcknowledgedIds = { request.Events.Select(e => e.Id) } });
    }

    public static async Task<WebApplication> ServeAsync(DriftStore store, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(store);
        var app = builder.Build();
        app.MapGrpcService<DriftStore>();
        await app.StartAsync(TestContext.Current.CancellationToken);
        return app;
    }
}

public sealed class DriftReporterTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";
    private const string Secret = "ofa_test-secret";

    private readonly TempDirectory state = new();
    private readonly int port = FreePort();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => state.Dispose();

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private AgentConfig Config => new()
    {
        HostId = HostId,
        AgentSecret = Secret,
        ControllerUrls = [$"http://127.0.0.1:{port}"],
        Broker = new BrokerSettings { Host = "127.0.0.1", Username = "u", Password = "p", Queue = "q" },
        StateDirectory = state.Path,
    };

    private DriftJournal OpenJournal() =>
        DriftJournal.Open(state.Combine("drift.json"), DriftJournal.DefaultCapacity, TimeProvider.System, NullLogger.Instance);

    [Fact]
    public async Task SendAsync_ControllerStores_EveryFieldOnTheWireAndEventsAcknowledged()
    {
        var store = new DriftStore(HostId, Secret);
        await using var app = await DriftStore.ServeAsync(store, port);
        using var client = new ControllerClient(Config);
        using var journal = OpenJournal();
        var flapping = DriftJournalTests.Event("d-2", DriftAction.Flapping) with { Recurred = true, Error = "x" };
        await journal.AddAsync([DriftJournalTests.Event("d-1"), flapping], Ct);
        var reporter = new DriftReporter(Config, client, journal, TimeProvider.System, NullLogger<DriftReporter>.Instance);

        Assert.True(await reporter.SendAsync(journal.Unacknowledged(10), Ct));

        Assert.Empty(journal.Unacknowledged(10));
        var sent = Assert.Single(store.Reports);
        Assert.Equal(HostId, sent.HostId);
        var first = sent.Events[0];
        Assert.Equal("d-1", first.Id);
        Assert.Equal("file:/etc/odoo.conf", first.ResourceId);
        Assert.Equal("file", first.Kind);
        Assert.Equal(4, first.Generation);
        Assert.Equal("update /etc/odoo.conf: content", first.Actual);
        Assert.Contains("+workers = 5", first.Diff, StringComparison.Ordinal);
        Assert.Equal("file", first.Trigger);
        Assert.Equal(Proto.DriftAction.Corrected, first.Action);
        Assert.Equal(DriftJournalTests.Event("d-1").DetectedAt, first.DetectedAt.ToDateTimeOffset());
        Assert.Equal(DriftJournalTests.Event("d-1").CorrectedAt, first.CorrectedAt.ToDateTimeOffset());
        Assert.Equal(Proto.DriftAction.Flapping, sent.Events[1].Action);
        Assert.Null(sent.Events[1].CorrectedAt);
        Assert.True(sent.Events[1].Recurred);
        Assert.Equal("x", sent.Events[1].Error);
    }

    [Fact]
    public async Task Reporter_ControllerAwayThenBack_EventsKeptThenDelivered()
    {
        using var client = new ControllerClient(Config);
        using var journal = OpenJournal();
        await journal.AddAsync([DriftJournalTests.Event("d-1"), DriftJournalTests.Event("d-2")], Ct);
        var reporter = new DriftReporter(Config, client, journal, TimeProvider.System, NullLogger<DriftReporter>.Instance);

        // Nobody listens: nothing is acknowledged, nothing is lost.
        Assert.False(await reporter.SendAsync(journal.Unacknowledged(10), Ct));
        Assert.Equal(2, journal.Unacknowledged(10).Count);

        await reporter.StartAsync(Ct);
        try
        {
            var store = new DriftStore(HostId, Secret);
            await using var app = await DriftStore.ServeAsync(store, port);
            await journal.AddAsync([DriftJournalTests.Event("d-3")], Ct);
            var deadline = Stopwatch.StartNew();
            while (journal.Unacknowledged(10).Count > 0)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "events were not delivered after the controller came back");
                await Task.Delay(TimeSpan.FromMilliseconds(50), Ct);
            }

            Assert.Equal(["d-1", "d-2", "d-3"], store.Reports.SelectMany(r => r.Events).Select(e => e.Id).Distinct().Order(StringComparer.Ordinal));
        }
        finally
        {
            await reporter.StopAsync(CancellationToken.None);
        }
    }
}
