using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;
using OdooFleet.Controller.Tests.Messaging;
using OdooFleet.Controller.Tests.Persistence;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;
using Xunit;

namespace OdooFleet.Controller.Tests.Api;

/// <summary>`fleet host remove` (FleetService.RemoveHost) on a real PostgreSQL and RabbitMQ.</summary>
public sealed class HostRemovalTests(MigratedDatabaseFixture database, BrokerFixture broker)
    : IClassFixture<MigratedDatabaseFixture>, IClassFixture<BrokerFixture>, IAsyncDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly EnrollmentStore enrollment = new(database.Database.DataSource);
    private readonly HostStore hosts = new(database.Database.DataSource);
    private readonly PlanStore plans = new(database.Database.DataSource);
    private readonly BrokerUsers users = broker.NewBrokerUsers(database.Database);
    private readonly CommandSigner signer = new(BrokerFixture.NewSecretStore(database.Database));
    private HostCommandPublisher? publisher;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private HostCommandPublisher Publisher => publisher ??= broker.NewPublisher(signer, TimeProvider.System);

    private HostRemoval NewRemoval() => new(hosts, users, new OdooAdminPasswords(BrokerFixture.NewSecretStore(database.Database)), TimeProvider.System, NullLogger<HostRemoval>.Instance);

    public async ValueTask DisposeAsync()
    {
        if (publisher is not null)
        {
            await publisher.DisposeAsync();
        }

        users.Dispose();
        signer.Dispose();
    }

    /// <summary>Enrolls a host the way AgentService.Enroll does: queue and broker user before the commit.</summary>
    private async Task<(HostRecord Host, BrokerCredentials Login)> EnrollAsync()
    {
        var token = Identifiers.Hash(Identifiers.NewSecret("oft"));
        await enrollment.CreateTokenAsync(Identifiers.New("t"), token, Now, Now.AddHours(1), Ct);
        var id = Identifiers.New("h");
        var host = new HostRecord(id, $"web-{id[2..]}", "10.0.0.1", Now, null, null, null, 0, null, 0, 0, null, false, "", HostCommandPublisher.QueueName(id));
        BrokerCredentials? login = null;
        var outcome = await enrollment.EnrollAsync(token, host, null, Now, "{}", async ct =>
        {
            await Publisher.EnsureHostQueueAsync(id, ct);
            login = await users.EnsureHostUserAsync(id, ct);
        }, Ct);
        Assert.Equal(TokenRedemption.Redeemed, outcome);
        return (host, login!);
    }

    private async Task<long> CountEventsAsync(string type, string subject)
    {
        await using var cmd = database.Database.DataSource.CreateCommand("SELECT count(*) FROM events WHERE type = $1 AND subject = $2");
        cmd.Parameters.AddWithValue(type);
        cmd.Parameters.AddWithValue(subject);
        return (long)(await cmd.ExecuteScalarAsync(Ct))!;
    }

    private async Task<bool> QueueExistsAsync(string queue)
    {
        await using var connection = await broker.ConnectAsync(broker.Options.Username, broker.Options.Password, Ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: Ct);
        try
        {
            await channel.QueueDeclarePassiveAsync(queue, Ct);
            return true;
        }
        catch (OperationInterruptedException e) when ((int?)e.ShutdownReason?.ReplyCode == Constants.NotFound)
        {
            return false;
        }
    }

    [Fact]
    public async Task RemoveAsync_Twice_RemovedThenAlreadyGoneWithOneEvent()
    {
        var (host, _) = await EnrollAsync();
        await plans.CreateAsync(Identifiers.New("p"), host.Id, Now, Ct);
        var removal = NewRemoval();

        var first = await removal.RemoveAsync(host.Name, Ct);
        var second = await removal.RemoveAsync(host.Id, Ct);

        Assert.Equal(new HostRemovalResult(host.Id, host.Name, true), first);
        Assert.Equal(new HostRemovalResult(host.Id, host.Name, false), second);
        Assert.Null(await hosts.FindAsync(host.Id, Ct));
        Assert.Equal(1, await CountEventsAsync("HostRemoved", host.Id));
        var proto = second!.ToProto();
        Assert.Equal(host.Id, proto.HostId);
        Assert.Equal(host.Name, proto.HostName);
        Assert.False(proto.Removed);
    }

    [Fact]
    public async Task RemoveAsync_EnrolledHost_BrokerUserAndQueueGone()
    {
        var (host, login) = await EnrollAsync();
        Assert.True(await QueueExistsAsync(host.Queue));

        await NewRemoval().RemoveAsync(host.Id, Ct);

        var refused = await Assert.ThrowsAsync<BrokerUnreachableException>(() => broker.ConnectAsync(login.Username, login.Password, Ct));
        Assert.IsType<AuthenticationFailureException>(refused.InnerException);
        Assert.False(await QueueExistsAsync(host.Queue));
        Assert.Null(await BrokerFixture.NewSecretStore(database.Database).GetAsync(BrokerUsers.SecretName(host.Id), Ct));
    }

    [Fact]
    public async Task RemoveAsync_Removed_NameCanBeEnrolledAgain()
    {
        var (host, _) = await EnrollAsync();

        await NewRemoval().RemoveAsync(host.Id, Ct);

        Assert.False(await enrollment.HostNameExistsAsync(host.Name, Ct));
    }

    [Fact]
    public async Task RemoveAsync_NeverEnrolled_Null()
    {
        Assert.Null(await NewRemoval().RemoveAsync("no-such-host", Ct));
        Assert.Null(await NewRemoval().RemoveAsync(Identifiers.New("h"), Ct));
    }
}
