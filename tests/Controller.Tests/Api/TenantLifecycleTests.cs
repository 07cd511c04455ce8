using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Planning;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Security;
using Xunit;
using DomainTenantState = OdooFleet.Controller.Domain.TenantState;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>
/// Suspend and delete through the agent's side of the controller: the real AgentService over mTLS
/// hands the desired tenant state in the host spec, and only the host's converge report moves it.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TenantLifecycleTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SuspendThenDelete_SpecCarriesTheStateAndOnlyTheReportMovesIt()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var tenants = new TenantStore(fixture.Database.DataSource);
        var name = $"l{Guid.NewGuid():N}"[..14];
        var verdict = new HostVerdict(agent.HostId, agent.Response.Name, true, 1, ["fits"]);
        var created = await tenants.CreateAsync(
            Identifiers.New("n"), new TenantRequest(name, [$"{name}.example.com"], "small", null, new Dictionary<string, string>(), ["base"]),
            _ => new PlacementDecision(verdict, [verdict], "test"), DateTimeOffset.UtcNow, Ct);
        await tenants.MarkCreatedAsync(agent.HostId, created.Generation, DateTimeOffset.UtcNow, Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            async Task<TenantSpec> SpecAsync()
            {
                var spec = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct);
                Assert.Equal(30, spec.TenantArchiveRetentionDays);
                return spec.Tenants.Single(t => t.Name == name);
            }

            Task ReportAsync(long generation) =>
                client.ReportConvergeAsync(new OdooFleet.Contracts.V1.ConvergeReport { HostId = agent.HostId, Generation = generation, Success = true }, cancellationToken: Ct).ResponseAsync;

            Assert.Equal(TenantSpecState.Active, (await SpecAsync()).State);
            var suspend = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Suspended, DateTimeOffset.UtcNow, Ct);
            Assert.Equal(TenantSpecState.Suspended, (await SpecAsync()).State);
            await ReportAsync(suspend.Generation - 1);
            Assert.Equal(DomainTenantState.Active, (await tenants.FindAsync(name, Ct))!.State);
            await ReportAsync(suspend.Generation);
            Assert.Equal(DomainTenantState.Suspended, (await tenants.FindAsync(name, Ct))!.State);

            var delete = await tenants.SetDesiredStateAsync(name, TenantDesiredState.Absent, DateTimeOffset.UtcNow, Ct);
            Assert.Equal(TenantSpecState.Absent, (await SpecAsync()).State);
            await client.ReportConvergeAsync(
                new OdooFleet.Contracts.V1.ConvergeReport { HostId = agent.HostId, Generation = delete.Generation, Success = false, Error = "tenant-removal: dropdb failed" }, cancellationToken: Ct);
            Assert.Equal(DomainTenantState.Deleting, (await tenants.FindAsync(name, Ct))!.State);
            await ReportAsync(delete.Generation);
            Assert.Null(await tenants.FindAsync(name, Ct));
            Assert.DoesNotContain((await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct)).Tenants, t => t.Name == name);
        }
    }

    [Fact]
    public async Task GetHostSpec_TenantCreatedWithLangAndCountry_SpecCarriesThem()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var name = $"g{Guid.NewGuid():N}"[..14];
        var verdict = new HostVerdict(agent.HostId, agent.Response.Name, true, 1, ["fits"]);
        await new TenantStore(fixture.Database.DataSource).CreateAsync(
            Identifiers.New("n"),
            new TenantRequest(name, [$"{name}.example.com"], "small", null, new Dictionary<string, string>(), ["base"]) { Lang = "es_419", Country = "MX" },
            _ => new PlacementDecision(verdict, [verdict], "test"), DateTimeOffset.UtcNow, Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var spec = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct);

            var tenant = spec.Tenants.Single(t => t.Name == name);
            Assert.Equal(("es_419", "MX"), (tenant.Lang, tenant.Country));
        }
    }
}
