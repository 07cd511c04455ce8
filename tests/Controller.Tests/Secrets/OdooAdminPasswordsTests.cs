using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Messaging;
using OdooFleet.Controller.Tests.Persistence;
using OdooFleet.Controller.Tests.Security;
using Xunit;

namespace OdooFleet.Controller.Tests.Secrets;

/// <summary>Hosts' Odoo master passwords (SEED-ERRATA #15) in the real secret store on a real PostgreSQL.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class OdooAdminPasswordsTests(MigratedDatabaseFixture fixture, BrokerFixture broker)
    : IClassFixture<MigratedDatabaseFixture>, IClassFixture<BrokerFixture>
{
    private static readonly SecretKey Key = new(RandomNumberGenerator.GetBytes(32));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private OdooAdminPasswords Passwords(NpgsqlDataSource? dataSource = null) =>
        new(new SecretStore(dataSource ?? fixture.Database.DataSource, new SecretKeyRing(Key, []), TimeProvider.System, NullLogger<SecretStore>.Instance));

    /// <summary>The agent's validator (src/Agent/Profiles/AdminPassword.cs): what it accepts into odoo.conf.</summary>
    [GeneratedRegex(@"^\$pbkdf2-sha512\$(?<rounds>[1-9][0-9]{0,9})\$(?<salt>[A-Za-z0-9./]{1,1366})\$(?<checksum>[A-Za-z0-9./]{86})\z")]
    private static partial Regex AgentHashPattern();

    private static byte[] Ab64Decode(string text) =>
        Convert.FromBase64String(text.Replace('.', '+') + new string('=', (4 - (text.Length % 4)) % 4));

    [Fact]
    public async Task GetOrCreate_NewHost_HashIsAgentFormatAndVerifiesAgainstTheStoredSecret()
    {
        var hostId = Identifiers.New("h");
        var made = await Passwords().GetOrCreateAsync(hostId, Ct);

        // Read back through another data source, as another controller would.
        await using var other = fixture.Database.CreateDataSource();
        var stored = await Passwords(other).GetOrCreateAsync(hostId, Ct);

        Assert.Equal(made, stored);
        var match = AgentHashPattern().Match(stored.Hash);
        Assert.True(match.Success, stored.Hash);
        var rounds = int.Parse(match.Groups["rounds"].Value, CultureInfo.InvariantCulture);
        Assert.Equal(600_000, rounds);
        var salt = Ab64Decode(match.Groups["salt"].Value);
        Assert.Equal(16, salt.Length);
        var checksum = Ab64Decode(match.Groups["checksum"].Value);
        var expected = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(stored.Secret), salt, rounds, HashAlgorithmName.SHA512, 64);
        Assert.Equal(expected, checksum);
        Assert.Matches("^[A-Za-z0-9_-]{32}$", stored.Secret);
        Assert.Equal(24, Convert.FromBase64String(stored.Secret.Replace('-', '+').Replace('_', '/')).Length);
    }

    [Fact]
    public async Task HashAsync_RepeatedOnTwoStoresFromTheFirstNeed_SameHashEveryTime()
    {
        var hostId = Identifiers.New("h");
        await using var other = fixture.Database.CreateDataSource();
        var (a, b) = (Passwords(), Passwords(other));

        // Both controllers' first need at once: one stored value wins for both.
        var first = await Task.WhenAll(a.HashAsync(hostId, Ct), b.HashAsync(hostId, Ct));
        var again = await Task.WhenAll(a.HashAsync(hostId, Ct), b.HashAsync(hostId, Ct));

        Assert.Equal(first[0], first[1]);
        Assert.Equal([first[0], first[0]], again);
    }

    [Fact]
    public async Task GetOrCreate_TwoHosts_DifferentSecretsSaltsAndHashes()
    {
        var passwords = Passwords();

        var one = await passwords.GetOrCreateAsync(Identifiers.New("h"), Ct);
        var two = await passwords.GetOrCreateAsync(Identifiers.New("h"), Ct);

        Assert.NotEqual(one.Secret, two.Secret);
        Assert.NotEqual(AgentHashPattern().Match(one.Hash).Groups["salt"].Value, AgentHashPattern().Match(two.Hash).Groups["salt"].Value);
        Assert.NotEqual(one.Hash, two.Hash);
    }

    [Fact]
    public async Task ToString_Password_ShowsTheHashNeverTheSecret()
    {
        var password = await Passwords().GetOrCreateAsync(Identifiers.New("h"), Ct);

        Assert.DoesNotContain(password.Secret, password.ToString(), StringComparison.Ordinal);
        Assert.Contains(password.Hash, password.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RemoveAsync_HostWithPassword_SecretGoneAndARemadeOneGoneOnTheRerun()
    {
        var now = DateTimeOffset.UtcNow;
        var enrollment = new EnrollmentStore(fixture.Database.DataSource);
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, now, now.AddHours(1), Ct);
        var id = Identifiers.New("h");
        var host = new HostRecord(id, $"web-{id[2..]}", "10.0.0.1", now, null, null, null, 0, null, 0, 0, null, false, "", HostCommandPublisher.QueueName(id));
        Assert.Equal(TokenRedemption.Redeemed, await enrollment.EnrollAsync(token, host, null, now, "{}", _ => Task.CompletedTask, Ct));
        var passwords = Passwords();
        var store = new SecretStore(fixture.Database.DataSource, new SecretKeyRing(Key, []), TimeProvider.System, NullLogger<SecretStore>.Instance);
        await passwords.HashAsync(id, Ct);
        using var users = broker.NewBrokerUsers(fixture.Database);
        var removal = new HostRemoval(new HostStore(fixture.Database.DataSource), users, passwords, TimeProvider.System, NullLogger<HostRemoval>.Instance);

        await removal.RemoveAsync(id, Ct);
        Assert.Null(await store.GetAsync(OdooAdminPasswords.SecretName(id), Ct));

        // A spec request in flight during the removal made it again: running the removal again finishes it.
        await passwords.HashAsync(id, Ct);
        await removal.RemoveAsync(id, Ct);
        Assert.Null(await store.GetAsync(OdooAdminPasswords.SecretName(id), Ct));
    }

    [Fact]
    public async Task GetHostSpec_EnrolledAgent_CarriesTheStoredHashOnEveryCall()
    {
        await using var endpoint = await TestAgentEndpoint.StartAsync(fixture.Database, Key, new FakeTimeProvider(DateTimeOffset.UtcNow));
        var agent = await endpoint.EnrollAsync(Ct);
        var (client, channel) = endpoint.Client(agent.Certificate);
        using (channel)
        {
            var first = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct);
            var second = await client.GetHostSpecAsync(new GetHostSpecRequest { HostId = agent.HostId }, cancellationToken: Ct);

            Assert.Matches(AgentHashPattern(), first.Odoo.AdminPasswdHash);
            Assert.Equal(first, second);
            var stored = await Passwords().GetOrCreateAsync(agent.HostId, Ct);
            Assert.Equal(stored.Hash, first.Odoo.AdminPasswdHash);
            Assert.DoesNotContain(stored.Secret, first.ToString(), StringComparison.Ordinal);
        }
    }
}
