using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>The access interceptor deciding real calls to the real FleetService, and the audit rows it writes.</summary>
public sealed class AccessTests : IAsyncLifetime
{
    private const string BootstrapToken = "ofb_bootstrap-for-tests";
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider time = new(Start);
    private TestDatabase? database;
    private FleetApiServer? server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FleetService.FleetServiceClient Fleet => server!.Fleet;

    public async ValueTask InitializeAsync()
    {
        database = await TestDatabase.CreateAsync(migrate: true);
        server = await FleetApiServer.StartAsync(database, BootstrapToken, time);
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    [Fact]
    public void MinimumRole_EveryFleetServiceMethod_IsListed()
    {
        var methods = FleetService.Descriptor.Methods.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);

        Assert.Empty(methods.Except(AccessPolicy.MinimumRole.Keys));
        Assert.Empty(AccessPolicy.MinimumRole.Keys.Except(methods));
    }

    [Theory]
    [InlineData("ListHosts", false)]
    [InlineData("GetRollout", false)]
    [InlineData("WatchRollout", false)]
    [InlineData("WhoAmI", false)]
    [InlineData("ListAudit", false)]
    [InlineData("StartRollout", true)]
    [InlineData("PlanHost", true)]
    [InlineData("RemoveHost", true)]
    [InlineData("RevokeApiToken", true)]
    public void IsMutating_Method_OnlyNonReads(string method, bool expected) =>
        Assert.Equal(expected, AccessPolicy.IsMutating(method));

    [Fact]
    public async Task StartRollout_ViewerToken_PermissionDeniedAndAuditedDenied()
    {
        var viewer = await CreateApiTokenAsync("alice", Role.Viewer);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Fleet.StartRolloutAsync(new StartRolloutRequest { Series = "18.0" }, FleetApiServer.Bearer(viewer.Token), cancellationToken: Ct));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Equal(
            "StartRollout needs role operator; token 'alice' has viewer; ask an admin for a token with `fleet apitoken create --role operator`",
            error.Status.Detail);
        var row = Assert.Single(await AuditAsync(), a => a.Action == "StartRollout");
        Assert.Equal($"token:alice ({viewer.Id})", row.Actor);
        Assert.Equal("viewer", row.Role);
        Assert.Equal("18.0", row.Target);
        Assert.StartsWith("denied: StartRollout needs role operator", row.Result, StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", row.Address);
        Assert.Contains("\"series\": \"18.0\"", row.DetailJson, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartRollout_OperatorTokenNoHosts_FailureInsideTheMethodAudited()
    {
        var operatorToken = await CreateApiTokenAsync("ci", Role.Operator);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Fleet.StartRolloutAsync(new StartRolloutRequest { Series = "18.0" }, FleetApiServer.Bearer(operatorToken.Token), cancellationToken: Ct));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        var row = Assert.Single(await AuditAsync(), a => a.Action == "StartRollout");
        Assert.Equal("operator", row.Role);
        Assert.StartsWith("error: FailedPrecondition: no hosts are enrolled", row.Result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Calls_UnknownRevokedOrExpiredToken_UnauthenticatedAndAudited()
    {
        var revoked = await CreateApiTokenAsync("gone", Role.Admin);
        await Fleet.RevokeApiTokenAsync(new RevokeApiTokenRequest { Id = "gone" }, FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct);
        var expiring = await CreateApiTokenAsync("short", Role.Admin, ttlSeconds: 60);
        time.Advance(TimeSpan.FromMinutes(2));

        foreach (var token in new[] { "ofk_never-issued", revoked.Token, expiring.Token })
        {
            var error = await Assert.ThrowsAsync<RpcException>(async () =>
                await Fleet.CreateEnrollmentTokenAsync(new CreateEnrollmentTokenRequest { HostName = "web-01" }, FleetApiServer.Bearer(token), cancellationToken: Ct));
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
            Assert.Equal(ApiTokenInterceptor.UnauthenticatedMessage, error.Status.Detail);
        }

        var rows = (await AuditAsync()).Where(a => a.Action == "CreateEnrollmentToken").ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal(["anonymous", $"token:gone ({revoked.Id})", $"token:short ({expiring.Id})"], rows.Select(r => r.Actor));
        Assert.Equal(["denied: unknown API token", "denied: API token revoked", "denied: API token expired"], rows.Select(r => r.Result));
        Assert.All(rows, r => Assert.Equal("web-01", r.Target));
    }

    [Fact]
    public async Task ListHosts_NoToken_UnauthenticatedEvenForReadsAndAudited()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Fleet.ListHostsAsync(new ListHostsRequest(), cancellationToken: Ct));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        var row = Assert.Single(await AuditAsync());
        Assert.Equal(("anonymous", "ListHosts", "denied: no API token presented"), (row.Actor, row.Action, row.Result));
    }

    [Fact]
    public async Task Calls_NoBootstrapConfiguredAndNoApiTokens_FailClosed()
    {
        await using var open = await FleetApiServer.StartAsync(database!, bootstrapToken: null, time);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await open.Fleet.WhoAmIAsync(new WhoAmIRequest(), FleetApiServer.Bearer(""), cancellationToken: Ct));

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task CreateEnrollmentToken_AdminToken_AllowedAuditedOkAndCreatedByTheToken()
    {
        var admin = await CreateApiTokenAsync("root", Role.Admin);

        var token = await Fleet.CreateEnrollmentTokenAsync(
            new CreateEnrollmentTokenRequest { HostName = "web-01", Labels = { ["role"] = "web", ["example.com/tier"] = "gold" } },
            FleetApiServer.Bearer(admin.Token), cancellationToken: Ct);

        Assert.StartsWith("oft_", token.Token, StringComparison.Ordinal);
        Assert.True(Validation.IsId(token.Id, 't'));
        Assert.Equal($"token:root ({admin.Id})", token.CreatedBy);
        var row = Assert.Single(await AuditAsync(), a => a.Action == "CreateEnrollmentToken");
        Assert.Equal(("ok", "admin", "web-01"), (row.Result, row.Role, row.Target));
        Assert.DoesNotContain(token.Token, row.DetailJson, StringComparison.Ordinal);
        var listed = await Fleet.ListEnrollmentTokensAsync(new ListEnrollmentTokensRequest(), FleetApiServer.Bearer(admin.Token), cancellationToken: Ct);
        var pending = Assert.Single(listed.Tokens);
        Assert.Equal(("web-01", "gold", ""), (pending.HostName, pending.Labels["example.com/tier"], pending.Token));
    }

    [Fact]
    public async Task CreateApiToken_ResponseSecret_NeverInTheAuditOrTheList()
    {
        var created = await CreateApiTokenAsync("bob", Role.Operator);

        var row = Assert.Single(await AuditAsync(), a => a.Action == "CreateApiToken");
        Assert.Equal(("bootstrap", "admin", "bob", "ok"), (row.Actor, row.Role, row.Target, row.Result));
        Assert.DoesNotContain(created.Token, row.DetailJson, StringComparison.Ordinal);
        var listed = await Fleet.ListApiTokensAsync(new ListApiTokensRequest(), FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct);
        Assert.Equal("", Assert.Single(listed.Tokens).Token);
        await using var cmd = database!.DataSource.CreateCommand("SELECT token_hash FROM api_tokens WHERE id = $1");
        cmd.Parameters.AddWithValue(created.Id);
        Assert.Equal(Identifiers.Hash(created.Token), (byte[])(await cmd.ExecuteScalarAsync(Ct))!);
    }

    [Fact]
    public async Task CreateApiToken_NameOfALiveToken_AlreadyExistsUntilRevoked()
    {
        await CreateApiTokenAsync("ci", Role.Viewer);

        var error = await Assert.ThrowsAsync<RpcException>(() => CreateApiTokenAsync("ci", Role.Admin));
        Assert.Equal(StatusCode.AlreadyExists, error.StatusCode);
        await Fleet.RevokeApiTokenAsync(new RevokeApiTokenRequest { Id = "ci" }, FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct);
        Assert.Equal(Role.Admin, (await CreateApiTokenAsync("ci", Role.Admin)).Role);
    }

    [Fact]
    public async Task RevokeEnrollmentToken_BadId_AuditedInvalid()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Fleet.RevokeEnrollmentTokenAsync(new RevokeEnrollmentTokenRequest { Id = "nope" }, FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var row = Assert.Single(await AuditAsync());
        Assert.StartsWith("invalid: id: 'nope' is not an enrollment token id", row.Result, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateEnrollmentToken_BadLabel_InvalidNamingTheLabelAndRule()
    {
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Fleet.CreateEnrollmentTokenAsync(
                new CreateEnrollmentTokenRequest { Labels = { ["Role"] = "web" } }, FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("label 'Role': the key must be lowercase letters", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListHosts_AllowedRead_NotAuditedAndLastUsedRecorded()
    {
        var viewer = await CreateApiTokenAsync("dash", Role.Viewer);
        time.Advance(TimeSpan.FromSeconds(5));

        await Fleet.ListHostsAsync(new ListHostsRequest(), FleetApiServer.Bearer(viewer.Token), cancellationToken: Ct);
        var whoami = await Fleet.WhoAmIAsync(new WhoAmIRequest(), FleetApiServer.Bearer(viewer.Token), cancellationToken: Ct);

        Assert.Equal(($"token:dash ({viewer.Id})", Role.Viewer, viewer.Id), (whoami.Actor, whoami.Role, whoami.TokenId));
        Assert.DoesNotContain(await AuditAsync(), a => a.Action is "ListHosts" or "WhoAmI");
        var listed = await Fleet.ListApiTokensAsync(new ListApiTokensRequest(), FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct);
        Assert.Equal(Start.AddSeconds(5), Assert.Single(listed.Tokens).LastUsedAt.ToDateTimeOffset());
    }

    [Fact]
    public async Task ListAudit_ViewerToken_DeniedAndAdminSeesTheDenial()
    {
        var viewer = await CreateApiTokenAsync("eve", Role.Viewer);

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await Fleet.ListAuditAsync(new ListAuditRequest(), FleetApiServer.Bearer(viewer.Token), cancellationToken: Ct));
        var seen = await Fleet.ListAuditAsync(
            new ListAuditRequest { Actor = $"token:eve ({viewer.Id})" }, FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct);

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        var entry = Assert.Single(seen.Entries);
        Assert.Equal(("ListAudit", Role.Viewer), (entry.Action, entry.Role));
        Assert.StartsWith("denied: ListAudit needs role admin", entry.Result, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("UPDATE audit_log SET result = 'ok'")]
    [InlineData("DELETE FROM audit_log")]
    [InlineData("TRUNCATE audit_log")]
    public async Task AuditLog_RewriteOrDelete_RefusedByTheTable(string sql)
    {
        await Assert.ThrowsAsync<RpcException>(async () => await Fleet.ListHostsAsync(new ListHostsRequest(), cancellationToken: Ct));
        await using var cmd = database!.DataSource.CreateCommand(sql);

        var error = await Assert.ThrowsAsync<PostgresException>(async () => await cmd.ExecuteNonQueryAsync(Ct));

        Assert.Contains("audit_log is append-only", error.MessageText, StringComparison.Ordinal);
        Assert.Single(await AuditAsync());
    }

    private async Task<ApiToken> CreateApiTokenAsync(string name, Role role, long ttlSeconds = 0) =>
        await Fleet.CreateApiTokenAsync(
            new CreateApiTokenRequest { Name = name, Role = role, TtlSeconds = ttlSeconds }, FleetApiServer.Bearer(BootstrapToken), cancellationToken: Ct);

    private async Task<IReadOnlyList<AuditRecord>> AuditAsync() =>
        await new AuditStore(database!.DataSource).ListAsync(Start.AddDays(-1), AuditStore.MaxLimit, null, Ct);
}
