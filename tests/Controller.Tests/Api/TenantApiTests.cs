using System.Reflection;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Grains;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;
using HostMetrics = OdooFleet.Controller.Domain.HostMetrics;
using HostFacts = OdooFleet.Controller.Domain.HostFacts;
using TenantState = OdooFleet.Contracts.V1.TenantState;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>FleetService's tenant calls through the real interceptor, over a real PostgreSQL.</summary>
public sealed class TenantApiTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>, IAsyncLifetime
{
    private const string Admin = "ofb_bootstrap-for-tenant-tests";
    private const long GiB = 1024L * 1024 * 1024;
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    private readonly FakeTimeProvider time = new(Now);
    private readonly HostStore hosts = new(fixture.Database.DataSource);
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);
    private readonly ConvergeGrains grains = ConvergeGrains.Create();
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

    private static CreateTenantRequest Request(string name, string host = "", bool dryRun = false) => new()
    {
        Name = name,
        Domains = { $"{name}.erp.example.com", $"www.{name}.example.org" },
        Host = host,
        DryRun = dryRun,
    };

    private Task<CreateTenantResponse> CreateAsync(CreateTenantRequest request) =>
        Fleet.CreateTenantAsync(request, FleetApiServer.Bearer(Admin), cancellationToken: Ct).ResponseAsync;

    [Fact]
    public async Task CreateTenant_DryRunThenCreateThenAgain_PlacedOnceAndTheHostToldOnce()
    {
        var host = await EnrollAsync(16);
        var name = Unique("a");

        var dry = await CreateAsync(Request(name, host.Name, dryRun: true));
        Assert.False(dry.Created);
        Assert.Equal(host.Name, dry.ChosenHost);
        Assert.StartsWith("fits:", Assert.Single(dry.Placement).Reasons.Single(), StringComparison.Ordinal);
        Assert.Null(await new TenantStore(fixture.Database.DataSource).FindAsync(name, Ct));
        Assert.Empty(grains.Told);

        var created = await CreateAsync(Request(name, host.Name));
        Assert.True(created.Created);
        Assert.Equal((host.Id, name, TenantState.Creating, $"https://{name}.erp.example.com/"), (created.Tenant.HostId, created.Tenant.Database, created.Tenant.State, created.Tenant.Url));
        Assert.Equal(host.DesiredGeneration + 1, created.Generation);
        Assert.Equal([host.Id], grains.Told);

        var again = await CreateAsync(Request(name, host.Name));
        Assert.False(again.Created);
        Assert.Equal(created.Tenant.Id, again.Tenant.Id);
        Assert.Equal(created.Generation, again.Generation);
        // Not applied yet: the repeat tells the host again (resumable), without a new generation.
        Assert.Equal([host.Id, host.Id], grains.Told);
        Assert.Equal(created.Generation, (await hosts.FindAsync(host.Id, Ct))!.DesiredGeneration);
    }

    [Fact]
    public async Task CreateTenant_Conflicts_AlreadyExistsNamingTheField()
    {
        var host = await EnrollAsync(16);
        var name = Unique("b");
        await CreateAsync(Request(name, host.Name));

        var otherArgs = Request(name, host.Name);
        otherArgs.Plan = "medium";
        var byName = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(otherArgs));
        Assert.Equal(StatusCode.AlreadyExists, byName.StatusCode);
        Assert.StartsWith("name:", byName.Status.Detail, StringComparison.Ordinal);

        var other = Unique("c");
        var sameDomain = Request(other, host.Name);
        sameDomain.Domains.Add($"www.{name}.example.org");
        var byDomain = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(sameDomain));
        Assert.Equal(StatusCode.AlreadyExists, byDomain.StatusCode);
        Assert.Contains($"www.{name}.example.org (tenant {name})", byDomain.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateTenant_NoRoom_ResourceExhaustedAndNothingStored()
    {
        var host = await EnrollAsync(1);
        var name = Unique("d");
        var error = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(Request(name, host.Name)));

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Contains("--dry-run", error.Status.Detail, StringComparison.Ordinal);
        Assert.Null(await new TenantStore(fixture.Database.DataSource).FindAsync(name, Ct));
    }

    [Fact]
    public async Task CreateTenant_LangAndCountry_StoredShownAndInTheHostSpecAndAnotherCountryConflicts()
    {
        var host = await EnrollAsync(16);
        var name = Unique("l");
        var request = Request(name, host.Name);
        request.Lang = "fr_FR";
        request.Country = "FR";

        var created = await CreateAsync(request);
        var again = await CreateAsync(request);
        var other = request.Clone();
        other.Country = "BE";
        var conflict = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(other));

        Assert.Equal(("fr_FR", "FR"), (created.Tenant.Lang, created.Tenant.Country));
        Assert.False(again.Created);
        Assert.Equal(StatusCode.AlreadyExists, conflict.StatusCode);
        var shown = await Fleet.GetTenantAsync(new GetTenantRequest { Name = name }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.Equal(("fr_FR", "FR"), (shown.Lang, shown.Country));
        var onHost = (await new TenantStore(fixture.Database.DataSource).ForHostAsync(host.Id, Ct)).Single(t => t.Name == name);
        Assert.Equal(("fr_FR", "FR"), (onHost.Lang, onHost.Country));
        var plain = (await CreateAsync(Request(Unique("m"), host.Name))).Tenant;
        Assert.Equal(("", ""), (plain.Lang, plain.Country));
    }

    [Theory]
    [InlineData("fr-FR", "", "lang: 'fr-FR' is not an Odoo language code")]
    [InlineData("", "UK", "country: 'UK' is not an ISO 3166-1 alpha-2 country code")]
    [InlineData("", "fr", "country: write the code in capitals: --country FR")]
    public async Task CreateTenant_BadLangOrCountry_InvalidArgumentAndNothingStored(string lang, string country, string expected)
    {
        var host = await EnrollAsync(16);
        var name = Unique("k");
        var request = Request(name, host.Name);
        request.Lang = lang;
        request.Country = country;

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(request));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(expected, error.Status.Detail, StringComparison.Ordinal);
        Assert.Null(await new TenantStore(fixture.Database.DataSource).FindAsync(name, Ct));
    }

    [Theory]
    [InlineData("Bad Name", "name:")]
    [InlineData("x;y", "name:")]
    public async Task CreateTenant_InvalidInput_InvalidArgument(string name, string field)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => CreateAsync(new CreateTenantRequest { Name = name, Domains = { "a.example.com" } }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field, error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListAndGet_FilterSearchAndShow()
    {
        var host = await EnrollAsync(16);
        var tag = Unique("s");
        await CreateAsync(Request($"{tag}-one", host.Name));
        await CreateAsync(Request($"{tag}-two", host.Name));

        var all = await Fleet.ListTenantsAsync(new ListTenantsRequest { Search = tag }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.Equal([$"{tag}-one", $"{tag}-two"], all.Tenants.Select(t => t.Name));
        Assert.False(all.Truncated);

        var cut = await Fleet.ListTenantsAsync(new ListTenantsRequest { Search = tag, Limit = 1, Host = host.Name, State = TenantState.Creating }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.True(cut.Truncated);
        Assert.Single(cut.Tenants);

        var shown = await Fleet.GetTenantAsync(new GetTenantRequest { Name = $"{tag}-two" }, FleetApiServer.Bearer(Admin), cancellationToken: Ct);
        Assert.Equal([$"www.{tag}-two.example.org"], shown.Aliases);
        Assert.Equal(-1, shown.DatabaseBytes);

        var missing = await Assert.ThrowsAsync<RpcException>(() => Fleet.GetTenantAsync(new GetTenantRequest { Name = "nope" }, FleetApiServer.Bearer(Admin), cancellationToken: Ct).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    private Task<TenantActionResponse> ActAsync(string verb, string name, bool confirm = false)
    {
        var request = new TenantActionRequest { Name = name, Confirm = confirm };
        var options = FleetApiServer.Bearer(Admin);
        return (verb switch
        {
            "suspend" => Fleet.SuspendTenantAsync(request, options, cancellationToken: Ct),
            "resume" => Fleet.ResumeTenantAsync(request, options, cancellationToken: Ct),
            _ => Fleet.DeleteTenantAsync(request, options, cancellationToken: Ct),
        }).ResponseAsync;
    }

    [Fact]
    public async Task SuspendTenant_ActiveThenAgain_PendingWithANewGenerationAndTheRepeatChangesNothing()
    {
        var host = await EnrollAsync(16);
        var name = Unique("s");
        var created = await CreateAsync(Request(name, host.Name));
        await new TenantStore(fixture.Database.DataSource).MarkCreatedAsync(host.Id, created.Generation, Now, Ct);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => ActAsync("resume", Unique("x")));
        var suspended = await ActAsync("suspend", name);
        var again = await ActAsync("suspend", name);

        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.True(suspended.Changed);
        Assert.Equal(created.Generation + 1, suspended.Generation);
        Assert.Equal((TenantState.Active, TenantState.Suspended), (suspended.Tenant.State, suspended.Tenant.PendingState));
        Assert.Contains("503", suspended.Summary, StringComparison.Ordinal);
        Assert.False(again.Changed);
        Assert.Equal(suspended.Generation, again.Generation);
        Assert.Contains("is being suspended already: nothing changed", again.Summary, StringComparison.Ordinal);
        Assert.Equal(suspended.Generation, (await hosts.FindAsync(host.Id, Ct))!.DesiredGeneration);
    }

    [Fact]
    public async Task SuspendTenant_WhileCreating_FailedPreconditionSayingWhatToDo()
    {
        var host = await EnrollAsync(16);
        var name = Unique("c");
        await CreateAsync(Request(name, host.Name));

        var error = await Assert.ThrowsAsync<RpcException>(() => ActAsync("suspend", name));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("state: ", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("wait until it is active", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteTenant_WithoutConfirm_InvalidArgumentAndNothingChanged()
    {
        var host = await EnrollAsync(16);
        var name = Unique("d");
        var created = await CreateAsync(Request(name, host.Name));

        var error = await Assert.ThrowsAsync<RpcException>(() => ActAsync("delete", name));
        var deleting = await ActAsync("delete", name, confirm: true);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("confirm: ", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("--yes", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(deleting.Changed);
        Assert.Equal(created.Generation + 1, deleting.Generation);
        Assert.Equal(TenantState.Deleting, deleting.Tenant.State);
    }

    [Theory]
    [InlineData("Acme")]
    [InlineData("a b")]
    [InlineData("")]
    public async Task TenantActions_BadName_InvalidArgumentNamingTheField(string name)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => ActAsync("suspend", name));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("name: ", error.Status.Detail, StringComparison.Ordinal);
    }

    /// <summary>Host grains that only record ResendConverge (what telling the agent goes through).</summary>
    public class ConvergeGrains : DispatchProxy
    {
        internal List<string> Told { get; } = [];

        internal static ConvergeGrains Create() => (ConvergeGrains)(object)Create<IGrainFactory, ConvergeGrains>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod is { Name: nameof(IGrainFactory.GetGrain), IsGenericMethod: true } && args?[0] is string hostId)
            {
                var grain = Create<IHostGrain, ConvergeHostGrain>();
                ((ConvergeHostGrain)(object)grain).Tell = () => Told.Add(hostId);
                return grain;
            }

            throw new InvalidOperationException($"these tests reach only host grains, but {targetMethod?.Name} was called");
        }
    }

    public class ConvergeHostGrain : DispatchProxy
    {
        internal Action Tell { get; set; } = () => { };

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod?.Name != nameof(IHostGrain.ResendConverge))
            {
                throw new InvalidOperationException($"these tests reach only ResendConverge, but {targetMethod?.Name} was called");
            }

            Tell();
            return Task.CompletedTask;
        }
    }
}
