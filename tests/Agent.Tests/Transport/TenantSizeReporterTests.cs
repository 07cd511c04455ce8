using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Metrics;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Tests.Resources;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

/// <summary>
/// TenantSizeReporter measuring a real scratch PostgreSQL cluster and real files, reporting to a
/// real gRPC AgentService over mutual TLS (TestAgentController), on a fake clock.
/// </summary>
[Collection(ScratchPostgresGroup.Name)]
public sealed class TenantSizeReporterTests(ScratchPostgres postgres) : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly TempDirectory state = new();
    private readonly TempDirectory root = new();
    private readonly TestPki pki = new();
    private readonly int port = FreePort();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        pki.Dispose();
        state.Dispose();
        root.Dispose();
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

    private TenantSizeReporter NewReporter(ControllerClient client, ICommandRunner runner, TimeProvider time) => new(
        Config,
        client,
        new TenantSizeMeter(runner, new HostPaths(root.Path), OdooLayout.Default),
        () => postgres.Cluster,
        time,
        NullLogger<TenantSizeReporter>.Instance);

    private static Proto.TenantSpec Tenant(string name, Proto.TenantSpecState state = Proto.TenantSpecState.Active) =>
        new() { Name = name, Database = name, PrimaryDomain = $"{name}.example.com", Modules = { "base" }, State = state };

    private static async Task<Proto.TenantSizeReport> NextReportAsync(TestAgentController controller) =>
        await controller.Service.SizeReports.Reader.ReadAsync(Ct).AsTask().WaitAsync(Deadline, Ct);

    [Fact]
    public async Task Run_AtStartAfterTenMinutesAndWhenAsked_ReportsTheSpecsTenantsMeasuredAtTheInjectedTime()
    {
        Assert.SkipWhen(postgres.SkipReason is not null, postgres.SkipReason ?? "");
        var (served, deleted, notCreated) = ($"oft-r-{ScratchPostgres.Unique()}", $"oft-r-{ScratchPostgres.Unique()}", $"oft-r-{ScratchPostgres.Unique()}");
        await postgres.Psql.ExecuteAsync(
            "CREATE DATABASE :\"served\";\nCREATE DATABASE :\"deleted\";\n", new Dictionary<string, string> { ["served"] = served, ["deleted"] = deleted }, Ct);
        await SpecCache.SaveAsync(
            Config.SpecCachePath,
            new Proto.HostSpec
            {
                HostId = HostId,
                Generation = 3,
                Odoo = new Proto.OdooSpec(),
                Postgres = new Proto.PostgresSpec(),
                Tenants = { Tenant(served), Tenant(deleted, Proto.TenantSpecState.Absent), Tenant(notCreated) },
            },
            Ct);
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki, port: port);
        using var client = NewClient();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 9, 0, 0, TimeSpan.Zero));
        var started = time.GetUtcNow();
        using var reporter = NewReporter(client, ScratchPostgres.Runner, time);

        await reporter.StartAsync(Ct);
        try
        {
            var first = await NextReportAsync(controller);
            Assert.Equal(HostId, first.HostId);
            Assert.Equal(started, first.MeasuredAt.ToDateTimeOffset());
            var size = Assert.Single(first.Tenants);
            Assert.Equal(served, size.Name);
            Assert.True(size.DatabaseBytes > 1_000_000, $"{size.DatabaseBytes} bytes: an empty PostgreSQL database takes several MB");
            Assert.Equal(0, size.FilestoreBytes);

            File.WriteAllBytes(Directory.CreateDirectory(Path.Combine(root.Path, "var/lib/odoo/filestore", served, "9a")).FullName + "/9a8b", new byte[2048]);
            time.Advance(TenantSizeReporter.Interval);
            var second = await NextReportAsync(controller);
            Assert.Equal(started + TenantSizeReporter.Interval, second.MeasuredAt.ToDateTimeOffset());
            Assert.Equal(2048, Assert.Single(second.Tenants).FilestoreBytes);

            // A converge that created a tenant does not wait for the next interval.
            reporter.MeasureSoon("test: a tenant was created");
            var third = await NextReportAsync(controller);
            Assert.Equal(started + TenantSizeReporter.Interval, third.MeasuredAt.ToDateTimeOffset());
        }
        finally
        {
            await reporter.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public async Task RunOnceAsync_NoSpecYetOrRemotePostgres_NothingMeasuredNothingSent()
    {
        await using var controller = await TestAgentController.StartAsync(new FakeAgentService(HostId, pki), pki, port: port);
        using var client = NewClient();
        var nothing = new NothingMayRun();
        using var reporter = NewReporter(client, nothing, TimeProvider.System);

        Assert.True(await reporter.RunOnceAsync(Ct));
        await SpecCache.SaveAsync(
            Config.SpecCachePath,
            new Proto.HostSpec { HostId = HostId, Generation = 1, Odoo = new Proto.OdooSpec(), Postgres = new Proto.PostgresSpec { Remote = true, Host = "db" }, Tenants = { Tenant("acme") } },
            Ct);
        Assert.True(await reporter.RunOnceAsync(Ct));

        Assert.Equal(0, nothing.Calls);
        Assert.False(controller.Service.SizeReports.Reader.TryRead(out _));
    }
}
