using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Security;
using Xunit;
using HostFacts = OdooFleet.Controller.Domain.HostFacts;
using HostMetrics = OdooFleet.Controller.Domain.HostMetrics;
using TenantState = OdooFleet.Contracts.V1.TenantState;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>FleetService.CloneTenant through the real interceptor over a real PostgreSQL.</summary>
public sealed class TenantCloneTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private const string Admin = "ofb_bootstrap-for-clone-tests";
    private const long GiB = 1024L * 1024 * 1024;
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private readonly FakeTimeProvider time = new(Now);
    private readonly HostStore hosts = new(fixture.Database.DataSource);
    private readonly TenantStore tenants = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);
    private readonly TenantApiTests.ConvergeGrains grains = TenantApiTests.ConvergeGrains.Create();
    private FleetApiServer? server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FleetService.FleetServiceClient Fleet => server!.Fleet;

    public async ValueTask InitializeAsync() =>
        server = await FleetApiServer.StartAsync(fixture.Database, Admin, time, grains: (IGrainFactory)(object)grains);

    public async ValueTask DisposeAsync() => await server!.DisposeAsync();

    private async Task<HostRecord> EnrollAsync(long memoryGiB)
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var id = Identifiers.New("h");
        var host = new HostRecord(id, $"web-{id[2..]}", "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, Now, "{}", _ => Task.CompletedTask, Ct));
        await hosts.RecordHeartbeatAsync(
            id, Now,
            new HostMetrics(5, memoryGiB * GiB, memoryGiB * GiB / 2, 100 * GiB, 90 * GiB, 0.1, 0.1, 0.1),
            new HostFacts(host.Name, "debian", "12", 2, memoryGiB * GiB, 100 * GiB, ["10.0.0.1"], "1.0", "m"),
            null, Ct);
        return (await hosts.FindAsync(id, Ct))!;
    }

    private static string Unique(string prefix) => $"{prefix}{Guid.NewGuid():N}"[..14];

    /// <summary>An active source tenant on the host, with modules and plan of its own.</summary>
    private async Task<CreateTenantResponse> SourceAsync(HostRecord host, string name)
    {
        var created = await Fleet.CreateTenantAsync(
            new CreateTenantRequest { Name = name, Domains = { $"{name}.erp.example.com" }, Host = host.Name, Plan = "medium", Modules = { "sale", "payment" } },
            FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        await tenants.MarkCreatedAsync(host.Id, created.Generation, Now, Ct);
        return created;
    }

    private static CloneTenantRequest Request(string source, string name, bool neutralize = true, bool dryRun = false) => new()
    {
        Source = source,
        Name = name,
        Domains = { $"{name}.erp.example.com", $"www.{name}.example.org" },
        Neutralize = neutralize,
        DryRun = dryRun,
    };

    private Task<CreateTenantResponse> CloneAsync(CloneTenantRequest request) =>
        Fleet.CloneTenantAsync(request, FleetApiServer.Bearer(Admin), cancellationToken: Ct).ResponseAsync;

    [Fact]
    public async Task CloneTenant_DryRunThenCloneThenAgain_OnTheSourcesHostOnceWithItsModulesAndPlan()
    {
        var other = await EnrollAsync(64);
        var host = await EnrollAsync(16);
        var source = Unique("s");
        await SourceAsync(host, source);
        var name = Unique("c");
        grains.Told.Clear();

        var dry = await CloneAsync(Request(source, name, dryRun: true));
        Assert.False(dry.Created);
        Assert.Equal(host.Name, dry.ChosenHost);
        Assert.Null(await tenants.FindAsync(name, Ct));

        var cloned = await CloneAsync(Request(source, name));
        var again = await CloneAsync(Request(source, name));

        Assert.True(cloned.Created);
        Assert.Equal((host.Id, source, true, TenantState.Creating), (cloned.Tenant.HostId, cloned.Tenant.CloneOf, cloned.Tenant.Neutralized, cloned.Tenant.State));
        Assert.Equal("medium", cloned.Tenant.Plan);
        Assert.Equal(["sale", "payment"], cloned.Tenant.Modules);
        Assert.Contains($"clone of {source} on {host.Name}, neutralized", cloned.Summary, StringComparison.Ordinal);
        Assert.False(again.Created);
        Assert.Equal((cloned.Tenant.Id, cloned.Generation), (again.Tenant.Id, again.Generation));
        Assert.Equal([host.Id, host.Id], grains.Told);
        Assert.DoesNotContain(grains.Told, id => id == other.Id);

        var shown = await Fleet.GetTenantAsync(new GetTenantRequest { Name = name }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.Equal((source, true), (shown.CloneOf, shown.Neutralized));
        var sourceShown = await Fleet.GetTenantAsync(new GetTenantRequest { Name = source }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.Equal(("", false), (sourceShown.CloneOf, sourceShown.Neutralized));

        await using var conn = await fixture.Database.DataSource.OpenConnectionAsync(Ct);
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT type, data->>'cloneOf', (data->>'neutralize')::boolean FROM events WHERE subject = $1", conn);
        cmd.Parameters.AddWithValue(cloned.Tenant.Id);
        await using var reader = await cmd.ExecuteReaderAsync(Ct);
        Assert.True(await reader.ReadAsync(Ct));
        Assert.Equal(("TenantCloneRequested", source, true), (reader.GetString(0), reader.GetString(1), reader.GetBoolean(2)));
        Assert.False(await reader.ReadAsync(Ct));
    }

    [Fact]
    public async Task CloneTenant_WithoutNeutralizeThenWithIt_SecondIsAnotherRequestAndRefused()
    {
        var host = await EnrollAsync(16);
        var source = Unique("s");
        await SourceAsync(host, source);
        var name = Unique("c");

        var live = await CloneAsync(Request(source, name, neutralize: false));
        var error = await Assert.ThrowsAsync<RpcException>(() => CloneAsync(Request(source, name, neutralize: true)));

        Assert.Contains("NOT neutralized", live.Summary, StringComparison.Ordinal);
        Assert.False(live.Tenant.Neutralized);
        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        Assert.StartsWith("name:", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CloneTenant_OtherHost_InvalidArgumentNamingTheSourcesHostAndNothingStored()
    {
        var other = await EnrollAsync(64);
        var host = await EnrollAsync(16);
        var source = Unique("s");
        await SourceAsync(host, source);
        var name = Unique("c");
        var request = Request(source, name);
        request.Host = other.Name;

        var error = await Assert.ThrowsAsync<RpcException>(() => CloneAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains($"host: a clone is made on its source's host (tenant {source} is on {host.Name})", error.Status.Detail, StringComparison.Ordinal);
        Assert.Null(await tenants.FindAsync(name, Ct));
        request.Host = host.Name;
        Assert.True((await CloneAsync(request)).Created);
    }

    [Fact]
    public async Task CloneTenant_SourceMissingCreatingOrNoRoom_RefusedWithTheReason()
    {
        var host = await EnrollAsync(16);
        var missing = await Assert.ThrowsAsync<RpcException>(() => CloneAsync(Request(Unique("n"), Unique("c"))));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.StartsWith("source: tenant", missing.Status.Detail, StringComparison.Ordinal);

        var creating = Unique("s");
        await Fleet.CreateTenantAsync(new CreateTenantRequest { Name = creating, Domains = { $"{creating}.erp.example.com" }, Host = host.Name }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        var notReady = await Assert.ThrowsAsync<RpcException>(() => CloneAsync(Request(creating, Unique("c"))));
        Assert.Equal(StatusCode.FailedPrecondition, notReady.StatusCode);
        Assert.Contains($"tenant {creating} is creating", notReady.Status.Detail, StringComparison.Ordinal);

        // 1 GiB left for tenants on this host, a medium source placed: a large clone must go there too, and does not fit.
        var small = await EnrollAsync(2);
        var source = Unique("s");
        var placed = await Fleet.CreateTenantAsync(
            new CreateTenantRequest { Name = source, Domains = { $"{source}.erp.example.com" }, Host = small.Name, Plan = "medium" }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        await tenants.MarkCreatedAsync(small.Id, placed.Generation, Now, Ct);
        var large = Request(source, Unique("c"));
        large.Plan = "large";
        var full = await Assert.ThrowsAsync<RpcException>(() => CloneAsync(large));
        Assert.Equal(StatusCode.ResourceExhausted, full.StatusCode);
        Assert.Contains("a clone goes only on its source's host", full.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bad Name", "x", "source:")]
    [InlineData("acme", "Bad", "name:")]
    [InlineData("acme", "acme", "as: the clone needs a name of its own")]
    public async Task CloneTenant_InvalidInput_InvalidArgumentNamingTheField(string source, string name, string expected)
    {
        var host = await EnrollAsync(16);
        if (source == "acme")
        {
            source = Unique("s");
            name = name == "acme" ? source : name;
            await SourceAsync(host, source);
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => CloneAsync(new CloneTenantRequest { Source = source, Name = name, Domains = { $"{name}.example.com" } }));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains(expected, error.Status.Detail, StringComparison.Ordinal);
    }

}

/// <summary>The clone in the host spec the real AgentService hands out over mTLS (a database of its own: the endpoint seals its CA with its key).</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TenantCloneSpecTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HostSpec_Clone_CarriesItsSourceAndNeutralize()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var tenants = new TenantStore(fixture.Database.DataSource);
        var source = $"s{Guid.NewGuid():N}"[..14];
        var name = $"c{Guid.NewGuid():N}"[..14];
        var verdict = new HostVerdict(agent.HostId, agent.Response.Name, true, 1, ["fits"]);
        var created = await tenants.CreateAsync(
            Identifiers.New("n"), new TenantRequest(source, [$"{source}.example.com"], "small", null, new Dictionary<string, string>(), ["base"]),
            _ => new PlacementDecision(verdict, [verdict], "test"), DateTimeOffset.UtcNow, Ct);
        await tenants.MarkCreatedAsync(agent.HostId, created.Generation, DateTimeOffset.UtcNow, Ct);
        var clone = await tenants.CreateAsync(
            Identifiers.New("n"),
            new TenantRequest(name, [$"{name}.example.com"], "small", null, new Dictionary<string, string>(), ["base"]) { CloneOf = source, Neutralize = true },
            _ => new PlacementDecision(verdict, [verdict], "test"), DateTimeOffset.UtcNow, Ct);
        Assert.Equal(TenantCreation.Created, clone.Outcome);

        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var spec = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct);
            Assert.Equal(("", false), (spec.Tenants.Single(t => t.Name == source).CloneOf, spec.Tenants.Single(t => t.Name == source).Neutralize));
            Assert.Equal((source, true), (spec.Tenants.Single(t => t.Name == name).CloneOf, spec.Tenants.Single(t => t.Name == name).Neutralize));
        }
    }
}
