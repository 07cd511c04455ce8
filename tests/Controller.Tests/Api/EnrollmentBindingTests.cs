using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Tests.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>Enrollment tokens bound to a host name and carrying labels, redeemed through the real AgentService.</summary>
public sealed class EnrollmentBindingTests : IAsyncLifetime
{
    private const string BootstrapToken = "ofb_bootstrap-for-tests";
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider time = new(Start);
    private TestDatabase? database;
    private ScratchVhost? vhost;
    private FleetApiServer? server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Metadata Admin => FleetApiServer.Bearer(BootstrapToken);

    public async ValueTask InitializeAsync()
    {
        database = await TestDatabase.CreateAsync(migrate: true);
        vhost = await ScratchVhost.CreateAsync(Ct);
        server = await FleetApiServer.StartAsync(database, BootstrapToken, time, vhost.Broker);
    }

    public async ValueTask DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        if (vhost is not null)
        {
            await vhost.DisposeAsync();
        }

        if (database is not null)
        {
            await database.DisposeAsync();
        }
    }

    [Fact]
    public async Task Enroll_BoundTokenWithoutName_BoundNameWinsLabelsStoredAndReuseRefused()
    {
        var token = await CreateTokenAsync("web-07", ("role", "web"), ("example.com/tier", "gold"));

        var enrolled = await EnrollAsync(token.Token, name: "");

        Assert.Equal("web-07", enrolled.Name);
        var host = await server!.Fleet.GetHostAsync(new GetHostRequest { Id = "web-07" }, Admin, cancellationToken: Ct);
        Assert.Equal(enrolled.HostId, host.Id);
        Assert.Equal("web", host.Labels["role"]);
        Assert.Equal("gold", host.Labels["example.com/tier"]);
        // The bound name is taken now, so a second use stops at the name (store tests cover the "used" reason).
        var again = await Assert.ThrowsAsync<RpcException>(() => EnrollAsync(token.Token, name: ""));
        Assert.Equal(StatusCode.AlreadyExists, again.StatusCode);
        var revoke = await Assert.ThrowsAsync<RpcException>(async () =>
            await server.Fleet.RevokeEnrollmentTokenAsync(new RevokeEnrollmentTokenRequest { Id = token.Id }, Admin, cancellationToken: Ct));
        Assert.Equal(StatusCode.FailedPrecondition, revoke.StatusCode);
        var spent = Assert.Single((await server.Fleet.ListEnrollmentTokensAsync(new ListEnrollmentTokensRequest { IncludeSpent = true }, Admin, cancellationToken: Ct)).Tokens);
        Assert.Equal(enrolled.HostId, spent.UsedByHost);
        Assert.Empty((await server.Fleet.ListEnrollmentTokensAsync(new ListEnrollmentTokensRequest(), Admin, cancellationToken: Ct)).Tokens);
    }

    [Fact]
    public async Task Enroll_BoundTokenOtherName_PermissionDeniedAuditedAndTokenStillPending()
    {
        var token = await CreateTokenAsync("web-07");

        var error = await Assert.ThrowsAsync<RpcException>(() => EnrollAsync(token.Token, name: "web-99"));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.StartsWith("token is bound to host name web-07", error.Status.Detail, StringComparison.Ordinal);
        var row = Assert.Single(await AuditAsync(), a => a.Action == "Enroll");
        Assert.Equal(("anonymous", "web-99", "denied: token is bound to host name web-07"), (row.Actor, row.Target, row.Result));
        Assert.Single((await server!.Fleet.ListEnrollmentTokensAsync(new ListEnrollmentTokensRequest(), Admin, cancellationToken: Ct)).Tokens);
    }

    [Fact]
    public async Task Enroll_RevokedToken_RefusedAsRevokedAndAudited()
    {
        var token = await CreateTokenAsync(hostName: "");
        var revoked = await server!.Fleet.RevokeEnrollmentTokenAsync(new RevokeEnrollmentTokenRequest { Id = token.Id }, Admin, cancellationToken: Ct);
        Assert.Equal(Start, revoked.RevokedAt.ToDateTimeOffset());

        var error = await Assert.ThrowsAsync<RpcException>(() => EnrollAsync(token.Token, name: "web-01"));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.StartsWith("token: was revoked", error.Status.Detail, StringComparison.Ordinal);
        var row = Assert.Single(await AuditAsync(), a => a.Action == "Enroll");
        Assert.Equal(("anonymous", "web-01", "denied: token revoked"), (row.Actor, row.Target, row.Result));
        Assert.Null(await new HostStore(database!.DataSource).FindAsync("web-01", Ct));
    }

    [Fact]
    public async Task Enroll_UnknownAndExpiredTokens_DistinctReasonsAudited()
    {
        var token = await CreateTokenAsync(hostName: "");
        time.Advance(TimeSpan.FromHours(2));

        var unknown = await Assert.ThrowsAsync<RpcException>(() => EnrollAsync("oft_never-issued", name: "web-01"));
        var expired = await Assert.ThrowsAsync<RpcException>(() => EnrollAsync(token.Token, name: "web-02"));

        Assert.StartsWith("token: is not valid", unknown.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("token: has expired", expired.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(["denied: unknown token", "denied: token expired"], (await AuditAsync()).Where(a => a.Action == "Enroll").Select(a => a.Result));
    }

    private async Task<EnrollmentToken> CreateTokenAsync(string hostName, params (string Key, string Value)[] labels)
    {
        var request = new CreateEnrollmentTokenRequest { HostName = hostName };
        foreach (var (key, value) in labels)
        {
            request.Labels[key] = value;
        }

        return await server!.Fleet.CreateEnrollmentTokenAsync(request, Admin, cancellationToken: Ct);
    }

    private async Task<EnrollResponse> EnrollAsync(string token, string name) =>
        await server!.Agent.EnrollAsync(
            new EnrollRequest
            {
                Token = token,
                Name = name,
                Facts = new HostFacts { Hostname = "ubuntu-box", OsId = "ubuntu", OsVersion = "24.04" },
                Csr = Google.Protobuf.ByteString.CopyFrom(Security.TestAgentEndpoint.Csr(ECDsa.Create(ECCurve.NamedCurves.nistP256))),
            },
            cancellationToken: Ct);

    private async Task<IReadOnlyList<AuditRecord>> AuditAsync() =>
        await new AuditStore(database!.DataSource).ListAsync(Start.AddDays(-1), AuditStore.MaxLimit, null, Ct);
}
