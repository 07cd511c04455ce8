using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class AccessStoreTests(MigratedDatabaseFixture fixture) : IClassFixture<MigratedDatabaseFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static readonly Func<CancellationToken, Task> NoBrokerWork = _ => Task.CompletedTask;
    private readonly EnrollmentStore enrollment = new(fixture.Database.DataSource);
    private readonly HostStore hosts = new(fixture.Database.DataSource);
    private readonly ApiTokenStore apiTokens = new(fixture.Database.DataSource);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string UniqueName(char first) => $"{first}{Guid.NewGuid():N}"[..20];

    private static HostRecord NewHost(string name) =>
        new(Identifiers.New("h"), name, "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", "q");

    private async Task<(string Id, byte[] Hash)> NewTokenAsync(string? hostName, params (string Key, string Value)[] labels)
    {
        var id = Identifiers.New("t");
        var hash = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(
            new EnrollmentTokenRecord(id, Now, Now.AddHours(1), hostName, labels.ToDictionary(l => l.Key, l => l.Value), "bootstrap", null, null, null),
            hash, Ct);
        return (id, hash);
    }

    [Fact]
    public async Task EnrollAsync_BoundToken_OtherNameRefusedBoundNameEnrolledWithLabels()
    {
        var name = UniqueName('b');
        var (_, hash) = await NewTokenAsync(name, ("role", "web"), ("example.com/tier", "gold"));
        var other = NewHost(UniqueName('o'));
        var bound = NewHost(name);

        Assert.Equal(TokenRedemption.BoundToOtherName, await enrollment.EnrollAsync(hash, other, null, Now, "{}", NoBrokerWork, Ct));
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(hash, bound, null, Now, "{}", NoBrokerWork, Ct));
        Assert.Equal(TokenRedemption.AlreadyUsed, await enrollment.EnrollAsync(hash, NewHost(UniqueName('c')), null, Now, "{}", NoBrokerWork, Ct));

        var stored = await hosts.FindAsync(bound.Id, Ct);
        Assert.NotNull(stored);
        Assert.Equal(new Dictionary<string, string> { ["example.com/tier"] = "gold", ["role"] = "web" }, stored.Labels);
        Assert.Null(await hosts.FindAsync(other.Id, Ct));
    }

    [Fact]
    public async Task EnrollAsync_RevokedToken_RefusedAsRevokedAndListedOnlyWithSpent()
    {
        var (id, hash) = await NewTokenAsync(null);
        var (outcome, revoked) = await enrollment.RevokeTokenAsync(id, Now, Ct);
        var (again, _) = await enrollment.RevokeTokenAsync(id, Now.AddMinutes(5), Ct);

        Assert.Equal((TokenRevocation.Revoked, TokenRevocation.Revoked), (outcome, again));
        Assert.Equal(Now, revoked!.RevokedAt);
        Assert.Equal(Now, (await enrollment.FindTokenAsync(id, Ct))!.RevokedAt);
        Assert.Equal(TokenRedemption.Revoked, await enrollment.EnrollAsync(hash, NewHost(UniqueName('r')), null, Now, "{}", NoBrokerWork, Ct));
        Assert.DoesNotContain(await enrollment.ListTokensAsync(includeSpent: false, Now, Ct), t => t.Id == id);
        Assert.Contains(await enrollment.ListTokensAsync(includeSpent: true, Now, Ct), t => t.Id == id);
        Assert.Equal(TokenRevocation.NotFound, (await enrollment.RevokeTokenAsync("t-aaaaaaaaaa", Now, Ct)).Outcome);
    }

    [Fact]
    public async Task TouchAsync_TwiceWithinAMinute_RecordsTheFirstOnly()
    {
        var token = new ApiTokenRecord(Identifiers.New("k"), UniqueName('k'), AccessRole.Viewer, Now, "bootstrap", null, null, null);
        Assert.Equal(ApiTokenCreation.Created, await apiTokens.CreateAsync(token, Identifiers.Hash(Identifiers.NewSecret("ofk")), Ct));

        await apiTokens.TouchAsync(token.Id, Now.AddSeconds(10), TimeSpan.FromMinutes(1), Ct);
        await apiTokens.TouchAsync(token.Id, Now.AddSeconds(40), TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(Now.AddSeconds(10), (await apiTokens.FindAsync(token.Id, Ct))!.LastUsedAt);
        await apiTokens.TouchAsync(token.Id, Now.AddSeconds(75), TimeSpan.FromMinutes(1), Ct);
        Assert.Equal(Now.AddSeconds(75), (await apiTokens.FindAsync(token.Name, Ct))!.LastUsedAt);
    }
}
