using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Tests.Transport;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Drift;

/// <summary>
/// DriftReporter against a real gRPC AgentService over mutual TLS (TestAgentController), which knows
/// the caller only by its client certificate and stores and acknowledges drift events.
/// </summary>
public sealed class DriftReporterTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";

    private readonly TempDirectory state = new();
    private readonly TestPki pki = new();
    private readonly int port = FreePort();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        pki.Dispose();
        state.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private AgentConfig Config => new()
    {
        HostId = HostId,
        ControllerUrls = [$"https://127.0.0.1:{port}"],
        IdentityPath = state.Combine("agent-identity.pem"),
        CommandSigningKey = Convert.ToBase64String(pki.SigningKeySpki),
        CommandSigningKeyId = pki.SigningKeyId,
        Broker = new BrokerSettings { Host = "127.0.0.1", Username = "u", Password = "p", Queue = "q" },
        StateDirectory = state.Path,
    };

    private ControllerClient NewClient()
    {
        var identity = new IdentityHolder(pki.HostIdentity(HostId, pki.NotBefore, TimeSpan.FromDays(365)), pki.Verifier());
        return new ControllerClient(Config, identity, TimeProvider.System, NullLogger<ControllerClient>.Instance);
    }

    /// <summary>The fake controller on the port the agent's configuration names.</summary>
    private Task<TestAgentController> StartControllerAsync() =>
        TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki, port: port);

    private DriftJournal OpenJournal() =>
        DriftJournal.Open(state.Combine("drift.json"), DriftJournal.DefaultCapacity, TimeProvider.System, NullLogger.Instance);

    [Fact]
    public async Task SendAsync_ControllerStores_EveryFieldOnTheWireAndEventsAcknowledged()
    {
        await using var controller = await StartControllerAsync();
        using var client = NewClient();
        using var journal = OpenJournal();
        var flapping = DriftJournalTests.Event("d-2", DriftAction.Flapping) with { Recurred = true, Error = "x" };
        var accept = DriftJournalTests.Event("d-1") with { Accept = [new DriftPatch("odoo.workers", "9"), new DriftPatch("postgres.settings.work_mem", "64MB")] };
        await journal.AddAsync([accept, flapping], Ct);
        var reporter = new DriftReporter(Config, client, journal, TimeProvider.System, NullLogger<DriftReporter>.Instance);

        Assert.True(await reporter.SendAsync(journal.Unacknowledged(10), Ct));

        Assert.Empty(journal.Unacknowledged(10));
        var sent = Assert.Single(controller.Service.DriftReports);
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
        Assert.Equal(["odoo.workers=9", "postgres.settings.work_mem=64MB"], first.Accept.Select(p => $"{p.Path}={p.Value}"));
        Assert.Empty(sent.Events[1].Accept);
    }

    [Fact]
    public async Task Reporter_ControllerAwayThenBack_EventsKeptThenDelivered()
    {
        using var client = NewClient();
        using var journal = OpenJournal();
        await journal.AddAsync([DriftJournalTests.Event("d-1"), DriftJournalTests.Event("d-2")], Ct);
        var reporter = new DriftReporter(Config, client, journal, TimeProvider.System, NullLogger<DriftReporter>.Instance);

        // Nobody listens: nothing is acknowledged, nothing is lost.
        Assert.False(await reporter.SendAsync(journal.Unacknowledged(10), Ct));
        Assert.Equal(2, journal.Unacknowledged(10).Count);

        await reporter.StartAsync(Ct);
        try
        {
            await using var controller = await StartControllerAsync();
            await journal.AddAsync([DriftJournalTests.Event("d-3")], Ct);
            var deadline = Stopwatch.StartNew();
            while (journal.Unacknowledged(10).Count > 0)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "events were not delivered after the controller came back");
                await Task.Delay(TimeSpan.FromMilliseconds(50), Ct);
            }

            Assert.Equal(["d-1", "d-2", "d-3"], controller.Service.DriftReports.SelectMany(r => r.Events).Select(e => e.Id).Distinct().Order(StringComparer.Ordinal));
        }
        finally
        {
            await reporter.StopAsync(CancellationToken.None);
        }
    }
}
