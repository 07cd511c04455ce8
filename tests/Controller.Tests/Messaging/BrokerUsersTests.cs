using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Tests.Persistence;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;
using Xunit;

namespace OdooFleet.Controller.Tests.Messaging;

/// <summary>Per-host broker users on a real RabbitMQ: what the broker itself lets a host do.</summary>
public sealed class BrokerUsersTests(MigratedDatabaseFixture database, BrokerFixture broker)
    : IClassFixture<MigratedDatabaseFixture>, IClassFixture<BrokerFixture>, IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    private readonly BrokerUsers users = broker.NewBrokerUsers(database.Database);
    private readonly List<IAsyncDisposable> open = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask DisposeAsync()
    {
        foreach (var item in open)
        {
            await item.DisposeAsync();
        }

        users.Dispose();
    }

    /// <summary>A host as enrollment makes it: its queue declared by the controller, its own user.</summary>
    private async Task<(string HostId, BrokerCredentials Login)> EnrollAsync()
    {
        var hostId = Identifiers.New("h");
        var signer = new CommandSigner(BrokerFixture.NewSecretStore(database.Database));
        var publisher = broker.NewPublisher(signer, TimeProvider.System);
        open.Add(publisher);
        await publisher.EnsureHostQueueAsync(hostId, Ct);
        return (hostId, await users.EnsureHostUserAsync(hostId, Ct));
    }

    private async Task<IChannel> ChannelAsAsync(BrokerCredentials login)
    {
        var connection = await broker.ConnectAsync(login.Username, login.Password, Ct);
        open.Add(connection);
        return await connection.CreateChannelAsync(cancellationToken: Ct);
    }

    /// <summary>Runs an action the broker answers asynchronously (a publish) and returns how the broker closed the channel.</summary>
    private static async Task<ShutdownEventArgs> ChannelClosedByAsync(IChannel channel, Func<Task> action)
    {
        var closed = new TaskCompletionSource<ShutdownEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        channel.ChannelShutdownAsync += (_, e) =>
        {
            closed.TrySetResult(e);
            return Task.CompletedTask;
        };
        try
        {
            await action();
        }
        catch (RabbitMQClientException)
        {
            // The refusal itself is read from the channel's close reason below.
        }

        return await closed.Task.WaitAsync(Deadline, Ct);
    }

    [Fact]
    public async Task EnsureHostUserAsync_OwnQueue_ConsumedAndOtherHostsQueueRefusedByTheBroker()
    {
        var (a, loginA) = await EnrollAsync();
        var (b, _) = await EnrollAsync();

        var own = await ChannelAsAsync(loginA);
        var tag = await own.BasicConsumeAsync(HostCommandPublisher.QueueName(a), autoAck: false, new AsyncEventingBasicConsumer(own), Ct);
        Assert.False(string.IsNullOrEmpty(tag));

        var get = await ChannelAsAsync(loginA);
        var refusedGet = await Assert.ThrowsAsync<OperationInterruptedException>(
            () => get.BasicGetAsync(HostCommandPublisher.QueueName(b), autoAck: true, Ct));
        Assert.Equal(Constants.AccessRefused, (int?)refusedGet.ShutdownReason?.ReplyCode);

        var consume = await ChannelAsAsync(loginA);
        var refusedConsume = await Assert.ThrowsAsync<OperationInterruptedException>(
            () => consume.BasicConsumeAsync(HostCommandPublisher.QueueName(b), autoAck: false, new AsyncEventingBasicConsumer(consume), Ct));
        Assert.Equal(Constants.AccessRefused, (int?)refusedConsume.ShutdownReason?.ReplyCode);
    }

    [Fact]
    public async Task EnsureHostUserAsync_HostUser_CannotPublishNorDeclareQueues()
    {
        var (a, loginA) = await EnrollAsync();

        var publish = await ChannelAsAsync(loginA);
        var publishRefused = await ChannelClosedByAsync(publish, async () =>
            await publish.BasicPublishAsync("", HostCommandPublisher.QueueName(a), "forged"u8.ToArray(), Ct));
        Assert.Equal(Constants.AccessRefused, (int)publishRefused.ReplyCode);

        var declareOwn = await ChannelAsAsync(loginA);
        var ownRefused = await Assert.ThrowsAsync<OperationInterruptedException>(() =>
            declareOwn.QueueDeclareAsync(HostCommandPublisher.QueueName(a), durable: true, exclusive: false, autoDelete: false, cancellationToken: Ct));
        Assert.Equal(Constants.AccessRefused, (int?)ownRefused.ShutdownReason?.ReplyCode);

        var declareOther = await ChannelAsAsync(loginA);
        var otherRefused = await Assert.ThrowsAsync<OperationInterruptedException>(() =>
            declareOther.QueueDeclareAsync("loot", durable: false, exclusive: true, autoDelete: true, cancellationToken: Ct));
        Assert.Equal(Constants.AccessRefused, (int?)otherRefused.ShutdownReason?.ReplyCode);
    }

    [Fact]
    public async Task EnsureHostUserAsync_HostUser_MayCheckItsOwnQueuePassively()
    {
        var (a, loginA) = await EnrollAsync();
        var channel = await ChannelAsAsync(loginA);

        // What an agent does at start: make sure its queue is there without the right to create it.
        var ok = await channel.QueueDeclarePassiveAsync(HostCommandPublisher.QueueName(a), Ct);

        Assert.Equal(HostCommandPublisher.QueueName(a), ok.QueueName);
    }

    [Fact]
    public async Task EnsureHostUserAsync_Twice_KeepsThePasswordTheAgentAlreadyHas()
    {
        var (a, first) = await EnrollAsync();

        var second = await users.EnsureHostUserAsync(a, Ct);

        Assert.Equal(first, second);
        Assert.Equal(BrokerUsers.UserPrefix + a, second.Username);
        // 32 random bytes, base64url: 43 characters.
        Assert.True(second.Password.Length >= 43, $"password has {second.Password.Length} characters");
        Assert.DoesNotContain(second.Password, second.ToString(), StringComparison.Ordinal);
        var stored = await BrokerFixture.NewSecretStore(database.Database).GetAsync(BrokerUsers.SecretName(a), Ct);
        Assert.Equal(second.Password, Encoding.UTF8.GetString(stored!));
        var channel = await ChannelAsAsync(second);
        Assert.True(channel.IsOpen);
    }

    [Fact]
    public async Task DeleteHostUserAsync_CredentialsNoLongerConnectAndTheSecretIsGone()
    {
        var (a, loginA) = await EnrollAsync();

        Assert.True(await users.DeleteHostUserAsync(a, Ct));

        var refused = await Assert.ThrowsAsync<BrokerUnreachableException>(() => broker.ConnectAsync(loginA.Username, loginA.Password, Ct));
        Assert.IsType<AuthenticationFailureException>(refused.InnerException);
        Assert.Null(await BrokerFixture.NewSecretStore(database.Database).GetAsync(BrokerUsers.SecretName(a), Ct));
        Assert.False(await users.DeleteHostUserAsync(a, Ct));
    }

    [Fact]
    public async Task DeleteHostUserAsync_AgentConnected_BrokerClosesItsConnection()
    {
        var (a, loginA) = await EnrollAsync();
        var connection = await broker.ConnectAsync(loginA.Username, loginA.Password, Ct);
        open.Add(connection);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.ConnectionShutdownAsync += (_, _) =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };

        await users.DeleteHostUserAsync(a, Ct);

        await closed.Task.WaitAsync(Deadline, Ct);
        Assert.False(connection.IsOpen);
    }

    [Fact]
    public async Task EnsureHostUserAsync_WrongControllerPassword_ErrorNamesStatusAndFixButNoPassword()
    {
        var options = new BrokerOptions
        {
            Host = broker.Options.Host,
            Port = broker.Options.Port,
            VirtualHost = broker.Options.VirtualHost,
            Username = broker.Options.Username,
            Password = "not-the-password",
        };
        var secrets = BrokerFixture.NewSecretStore(database.Database);
        using var wrong = new BrokerUsers(Microsoft.Extensions.Options.Options.Create(options), secrets, NullLogger<BrokerUsers>.Instance);
        var hostId = Identifiers.New("h");

        var e = await Assert.ThrowsAsync<BrokerManagementException>(() => wrong.EnsureHostUserAsync(hostId, Ct));

        Assert.Contains("401", e.Message, StringComparison.Ordinal);
        Assert.Contains("Broker:Password", e.Message, StringComparison.Ordinal);
        var password = Encoding.UTF8.GetString((await secrets.GetAsync(BrokerUsers.SecretName(hostId), Ct))!);
        Assert.DoesNotContain(password, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnsureHostUserAsync_ManagementApiDown_ErrorSaysHowToEnableIt()
    {
        var options = new BrokerOptions
        {
            Host = broker.Options.Host,
            VirtualHost = broker.Options.VirtualHost,
            Username = broker.Options.Username,
            Password = broker.Options.Password,
            // Port 1 on loopback: nothing listens there, so the connection is refused at once.
            ManagementUrl = "http://127.0.0.1:1",
        };
        using var down = new BrokerUsers(
            Microsoft.Extensions.Options.Options.Create(options), BrokerFixture.NewSecretStore(database.Database), NullLogger<BrokerUsers>.Instance);

        var e = await Assert.ThrowsAsync<BrokerManagementException>(() => down.EnsureHostUserAsync(Identifiers.New("h"), Ct));

        Assert.Contains("rabbitmq-plugins enable rabbitmq_management", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("h-short")]
    [InlineData("h-3kq9t2mzp$")]
    [InlineData("x-3kq9t2mzpa")]
    public async Task EnsureHostUserAsync_NotAHostId_RefusedBeforeAnyRequest(string hostId)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => users.EnsureHostUserAsync(hostId, Ct));
    }

    [Fact]
    public void ReadPattern_HostId_MatchesOnlyThatQueueLiterally()
    {
        var pattern = BrokerUsers.ReadPattern("h-3kq9t2mzpa");

        Assert.Equal(@"^fleet\.host\.h-3kq9t2mzpa$", pattern);
        Assert.Matches(pattern, "fleet.host.h-3kq9t2mzpa");
        Assert.DoesNotMatch(pattern, "fleetxhost.h-3kq9t2mzpa");
        Assert.DoesNotMatch(pattern, "fleet.host.h-3kq9t2mzpa2");
    }
}
