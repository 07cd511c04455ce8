using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OdooFleet.Contracts.V1;
using Xunit;

namespace OdooFleet.FleetSim.Tests;

public sealed class CommandCheckTests : IDisposable
{
    private const string HostId = "h-abcdefghij";
    private static readonly DateTimeOffset Now = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
    private readonly ECDsa fleetKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly string keyId;
    private readonly HashSet<string> seen = new(StringComparer.Ordinal);

    public CommandCheckTests()
    {
        keyId = Convert.ToHexStringLower(SHA256.HashData(fleetKey.ExportSubjectPublicKeyInfo())[..8]);
    }

    [Fact]
    public void Decide_SignedConvergeForThisHost_Accepts()
    {
        var verdict = Decide(Sign(Converge(7)));

        var accepted = Assert.IsType<CommandVerdict.Accept>(verdict);
        Assert.Equal(7, accepted.Command.Converge.Generation);
    }

    [Fact]
    public void Decide_StageCommand_Accepts()
    {
        var command = Command();
        command.Stage = new StageReleaseCommand { Release = new OdooRelease { Series = "18.0", Commit = new string('a', 40) }, RolloutId = "r-1234567890" };

        Assert.IsType<CommandVerdict.Accept>(Decide(Sign(command)));
    }

    [Fact]
    public void Decide_CommandBytesAlteredAfterSigning_Rejects()
    {
        var signed = Sign(Converge(7));
        var altered = Converge(8);
        altered.Nonce = HostCommand.Parser.ParseFrom(signed.Command).Nonce;
        signed.Command = altered.ToByteString();

        var reject = Assert.IsType<CommandVerdict.Reject>(Decide(signed));
        Assert.Contains("bad signature", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_OtherHostsCommand_Rejects()
    {
        var command = Converge(7);
        command.HostId = "h-someoneels";

        var reject = Assert.IsType<CommandVerdict.Reject>(Decide(Sign(command)));
        Assert.Contains("is not this host", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_SameNonceTwice_RejectsTheReplay()
    {
        var signed = Sign(Converge(7));

        Assert.IsType<CommandVerdict.Accept>(Decide(signed));
        var reject = Assert.IsType<CommandVerdict.Reject>(Decide(signed));
        Assert.Contains("replayed", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_ExpiredBeyondClockSkew_Rejects()
    {
        var command = Converge(7);
        command.IssuedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-20));
        command.ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-10));

        var reject = Assert.IsType<CommandVerdict.Reject>(Decide(Sign(command)));
        Assert.Contains("outside its lifetime", reject.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_UnknownKeyId_Rejects()
    {
        var signed = Sign(Converge(7));
        signed.KeyId = "0000000000000000";

        var reject = Assert.IsType<CommandVerdict.Reject>(Decide(signed));
        Assert.Contains("key_id", reject.Reason, StringComparison.Ordinal);
    }

    public void Dispose() => fleetKey.Dispose();

    private CommandVerdict Decide(SignedHostCommand signed) =>
        CommandCheck.Decide(signed.ToByteArray(), HostId, fleetKey, keyId, seen, Now);

    private static HostCommand Command() => new()
    {
        CommandId = "c-0123456789",
        HostId = HostId,
        IssuedAt = Timestamp.FromDateTimeOffset(Now.AddSeconds(-5)),
        ExpiresAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(10)),
        Nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)),
    };

    private static HostCommand Converge(long generation)
    {
        var command = Command();
        command.Converge = new ConvergeCommand { Generation = generation };
        return command;
    }

    /// <summary>As the controller's CommandSigner signs: the exact serialized bytes, ECDSA P-256, IEEE P1363.</summary>
    private SignedHostCommand Sign(HostCommand command)
    {
        var bytes = command.ToByteArray();
        return new SignedHostCommand
        {
            Command = ByteString.CopyFrom(bytes),
            Signature = ByteString.CopyFrom(fleetKey.SignData(bytes, HashAlgorithmName.SHA256)),
            KeyId = keyId,
        };
    }
}
