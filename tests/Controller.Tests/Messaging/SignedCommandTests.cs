using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Tests.Persistence;
using RabbitMQ.Client;
using Xunit;

namespace OdooFleet.Controller.Tests.Messaging;

/// <summary>Commands on a host's queue as its agent reads them: signed, expiring, with a nonce.</summary>
public sealed class SignedCommandTests(MigratedDatabaseFixture database, BrokerFixture broker)
    : IClassFixture<MigratedDatabaseFixture>, IClassFixture<BrokerFixture>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private CommandSigner NewSigner() => new(BrokerFixture.NewSecretStore(database.Database));

    private static bool Verifies(byte[] publicKeyInfo, byte[] command, byte[] signature)
    {
        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(publicKeyInfo, out _);
        return key.VerifyData(command, signature, HashAlgorithmName.SHA256);
    }

    /// <summary>Publishes one Converge and fetches it back from the queue with the host's own broker user.</summary>
    private async Task<(BasicGetResult Message, byte[] PublicKeyInfo, string KeyId)> SendAndFetchAsync(string hostId, long generation)
    {
        using var signer = NewSigner();
        await using var publisher = broker.NewPublisher(signer, new FakeTimeProvider(Now));
        using var users = broker.NewBrokerUsers(database.Database);
        await publisher.EnsureHostQueueAsync(hostId, Ct);
        var login = await users.EnsureHostUserAsync(hostId, Ct);

        await publisher.SendConvergeAsync(hostId, generation, Ct);

        await using var connection = await broker.ConnectAsync(login.Username, login.Password, Ct);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: Ct);
        // The publish returned after the broker confirmed it, so the message is in the queue now.
        var message = await channel.BasicGetAsync(HostCommandPublisher.QueueName(hostId), autoAck: true, Ct);
        await users.DeleteHostUserAsync(hostId, Ct);
        var (spki, keyId) = await signer.GetPublicKeyAsync(Ct);
        return (message ?? throw new InvalidOperationException("the queue was empty"), spki, keyId);
    }

    [Fact]
    public async Task SendConvergeAsync_Published_IsASignedHostCommandThatVerifiesExpiresAndHasANonce()
    {
        var hostId = Identifiers.New("h");

        var (message, spki, keyId) = await SendAndFetchAsync(hostId, 7);

        Assert.Equal("fleet.v1.SignedHostCommand", message.BasicProperties.Type);
        Assert.Equal("application/x-protobuf", message.BasicProperties.ContentType);
        var signed = SignedHostCommand.Parser.ParseFrom(message.Body.Span);
        Assert.Equal(keyId, signed.KeyId);
        Assert.True(Verifies(spki, signed.Command.ToByteArray(), signed.Signature.ToByteArray()));
        // IEEE P1363: r||s, 32 bytes each for P-256 (not DER).
        Assert.Equal(64, signed.Signature.Length);
        var command = HostCommand.Parser.ParseFrom(signed.Command);
        Assert.Equal(hostId, command.HostId);
        Assert.Equal(7, command.Converge.Generation);
        Assert.Equal(Now, command.IssuedAt.ToDateTimeOffset());
        Assert.Equal(Now.AddMinutes(10), command.ExpiresAt.ToDateTimeOffset());
        Assert.Matches("^[0-9a-f]{32,}$", command.Nonce);
        Assert.Equal(command.CommandId, message.BasicProperties.MessageId);
    }

    [Fact]
    public async Task SendConvergeAsync_AnyByteOfTheCommandFlipped_SignatureNoLongerVerifies()
    {
        var (message, spki, _) = await SendAndFetchAsync(Identifiers.New("h"), 3);
        var signed = SignedHostCommand.Parser.ParseFrom(message.Body.Span);
        var command = signed.Command.ToByteArray();
        var signature = signed.Signature.ToByteArray();

        for (var i = 0; i < command.Length; i++)
        {
            var altered = (byte[])command.Clone();
            altered[i] ^= 0x01;
            Assert.False(Verifies(spki, altered, signature), $"a flipped bit in byte {i} still verified");
        }
    }

    [Fact]
    public async Task SendConvergeAsync_TwoCommands_DifferentNonces()
    {
        var hostId = Identifiers.New("h");

        var first = HostCommand.Parser.ParseFrom(SignedHostCommand.Parser.ParseFrom((await SendAndFetchAsync(hostId, 1)).Message.Body.Span).Command);
        var second = HostCommand.Parser.ParseFrom(SignedHostCommand.Parser.ParseFrom((await SendAndFetchAsync(hostId, 1)).Message.Body.Span).Command);

        Assert.NotEqual(first.Nonce, second.Nonce);
        Assert.NotEqual(first.CommandId, second.CommandId);
    }

    [Fact]
    public async Task GetPublicKeyAsync_TwoSignersOverOneDatabase_SameKeyAndKeyId()
    {
        using var a = NewSigner();
        using var b = new CommandSigner(BrokerFixture.NewSecretStore(database.Database));

        var (spkiA, idA) = await a.GetPublicKeyAsync(Ct);
        var (spkiB, idB) = await b.GetPublicKeyAsync(Ct);

        Assert.Equal(spkiA, spkiB);
        Assert.Equal(idA, idB);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(spkiA)[..8]), idA);
        Assert.Matches("^[0-9a-f]{16}$", idA);
        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(spkiA, out _);
        Assert.Equal(256, key.KeySize);
    }

    [Fact]
    public async Task AddPublicKeyAsync_Identity_CarriesTheSigningKeyAndItsId()
    {
        using var signer = NewSigner();
        var identity = new AgentIdentity();

        await signer.AddPublicKeyAsync(identity, Ct);

        var (spki, keyId) = await signer.GetPublicKeyAsync(Ct);
        Assert.Equal(spki, identity.CommandSigningKey.ToByteArray());
        Assert.Equal(keyId, identity.CommandSigningKeyId);
    }

    [Fact]
    public async Task SignAsync_SignatureFromAnotherKey_DoesNotVerify()
    {
        using var signer = NewSigner();
        var signed = await signer.SignAsync(new HostCommand { CommandId = "c-3kq9t2mzpa", HostId = "h-3kq9t2mzpa", Nonce = "00" }, Ct);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Assert.False(Verifies(other.ExportSubjectPublicKeyInfo(), signed.Command.ToByteArray(), signed.Signature.ToByteArray()));
    }
}
