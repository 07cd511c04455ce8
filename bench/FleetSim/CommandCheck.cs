using System.Security.Cryptography;
using Google.Protobuf;
using OdooFleet.Contracts.V1;

namespace OdooFleet.FleetSim;

/// <summary>What a virtual agent does with one delivery, decided as the real agent decides it.</summary>
internal abstract record CommandVerdict
{
    internal sealed record Accept(HostCommand Command) : CommandVerdict;

    internal sealed record Reject(string Reason) : CommandVerdict;
}

/// <summary>
/// The checks the real agent makes before it acts on a queued command (src/Agent/Transport/
/// HostCommandDecoder.cs): a SignedHostCommand signed by the fleet's command key (ECDSA P-256,
/// IEEE P1363 over SHA-256 of the exact command bytes), for this host, inside its lifetime (with
/// the agent's clock skew), with a nonce never seen before. Pure but for the nonce set it is given.
/// </summary>
internal static class CommandCheck
{
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    public static CommandVerdict Decide(ReadOnlySpan<byte> body, string hostId, ECDsa signingKey, string keyId, ISet<string> seenNonces, DateTimeOffset now)
    {
        SignedHostCommand signed;
        try
        {
            signed = SignedHostCommand.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            return new CommandVerdict.Reject($"body is not a fleet.v1.SignedHostCommand: {e.Message}");
        }

        if (signed.Command.IsEmpty || signed.Signature.IsEmpty)
        {
            return new CommandVerdict.Reject("unsigned: command or signature is empty");
        }

        if (signed.KeyId != keyId)
        {
            return new CommandVerdict.Reject($"signed with key_id '{signed.KeyId}', the fleet's is '{keyId}'");
        }

        if (!signingKey.VerifyData(signed.Command.Span, signed.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return new CommandVerdict.Reject($"bad signature for key_id '{keyId}'");
        }

        HostCommand command;
        try
        {
            command = HostCommand.Parser.ParseFrom(signed.Command);
        }
        catch (InvalidProtocolBufferException e)
        {
            return new CommandVerdict.Reject($"signed bytes are not a fleet.v1.HostCommand: {e.Message}");
        }

        if (command.HostId != hostId)
        {
            return new CommandVerdict.Reject($"host_id '{command.HostId}' is not this host ('{hostId}')");
        }

        if (command.IssuedAt is null || command.ExpiresAt is null)
        {
            return new CommandVerdict.Reject($"command {command.CommandId}: issued_at and expires_at are required");
        }

        var issued = command.IssuedAt.ToDateTimeOffset();
        var expires = command.ExpiresAt.ToDateTimeOffset();
        if (now > expires + ClockSkew || issued > now + ClockSkew || expires < issued || expires - issued > MaxLifetime)
        {
            return new CommandVerdict.Reject($"command {command.CommandId}: outside its lifetime (issued {issued:O}, expires {expires:O}, now {now:O})");
        }

        if (command.Nonce.Length is < 16 or > 128)
        {
            return new CommandVerdict.Reject($"command {command.CommandId}: nonce of {command.Nonce.Length} characters, 16-128 expected");
        }

        if (!seenNonces.Add(command.Nonce))
        {
            return new CommandVerdict.Reject($"command {command.CommandId}: replayed (nonce seen before)");
        }

        return command.KindCase switch
        {
            HostCommand.KindOneofCase.Converge when command.Converge.Generation <= 0 =>
                new CommandVerdict.Reject($"command {command.CommandId}: converge generation {command.Converge.Generation} is not positive"),
            HostCommand.KindOneofCase.Converge or HostCommand.KindOneofCase.Stage or HostCommand.KindOneofCase.Plan => new CommandVerdict.Accept(command),
            _ => new CommandVerdict.Reject($"command {command.CommandId}: no known command kind"),
        };
    }
}
