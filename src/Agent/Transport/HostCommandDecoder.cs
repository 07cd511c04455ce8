using System.Text.RegularExpressions;
using Google.Protobuf;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>A nonce to record (durably, before the ack) and until when it must be remembered.</summary>
internal sealed record Admission(string Nonce, DateTimeOffset KeepUntil);

/// <summary>What the queue consumer does with one delivery; decided without side effects.</summary>
internal abstract record CommandDecision
{
    /// <summary>Not for us, not authentic or not understandable: nack without requeue so the broker dead-letters it.</summary>
    internal sealed record Reject(string Reason) : CommandDecision;

    /// <summary>Already converged and reported (duplicate or reordered message): record the nonce, ack.</summary>
    internal sealed record AlreadyDone(long Generation, long ReportedGeneration, Admission Admission) : CommandDecision;

    /// <summary>Record the nonce, journal as pending, ack, converge.</summary>
    internal sealed record Converge(long Generation, string CommandId, Admission Admission) : CommandDecision;

    /// <summary>Record the nonce, ack and queue the prefetch of a release (idempotent: a staged release is reported at once).</summary>
    internal sealed record Stage(string CommandId, Engine.ReleaseRef Release, Engine.ReleaseArtifactRef? Artifact, string? RolloutId, Admission Admission) : CommandDecision;

    /// <summary>Record the nonce, ack and queue a read-only plan (never journaled: a lost plan only makes its caller time out).</summary>
    internal sealed record Plan(string RequestId, string CommandId, DateTimeOffset IssuedAt, Admission Admission) : CommandDecision;
}

/// <summary>What a delivery is checked against.</summary>
internal sealed record CommandContext(string HostId, long ReportedGeneration, CommandVerifier Verifier, ReplayGuard Replay, DateTimeOffset Now);

internal static partial class HostCommandDecoder
{
    /// <summary>How far the controller's clock may be from ours.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(60);

    /// <summary>Longest accepted expires_at - issued_at: bounds how long a nonce must be remembered.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    public static CommandDecision Decide(ReadOnlySpan<byte> body, CommandContext context)
    {
        if (body.IsEmpty)
        {
            return new CommandDecision.Reject("empty body (expected a protobuf fleet.v1.SignedHostCommand)");
        }

        SignedHostCommand signed;
        try
        {
            signed = SignedHostCommand.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            return new CommandDecision.Reject($"body is not a protobuf fleet.v1.SignedHostCommand: {e.Message}");
        }

        if (signed.Command.IsEmpty || signed.Signature.IsEmpty)
        {
            return new CommandDecision.Reject("unsigned: command or signature is empty (a controller older than this agent? upgrade the controller)");
        }

        var verifier = context.Verifier;
        if (signed.KeyId != verifier.KeyId)
        {
            return new CommandDecision.Reject(
                $"signed with unknown key_id '{Printable(signed.KeyId)}' (this agent trusts '{verifier.KeyId}'; after a key rotation the agent learns the new key at its next certificate renewal)");
        }

        if (!verifier.Verify(signed.Command.Span, signed.Signature.Span))
        {
            return new CommandDecision.Reject($"bad signature for key_id '{verifier.KeyId}'");
        }

        HostCommand command;
        try
        {
            command = HostCommand.Parser.ParseFrom(signed.Command);
        }
        catch (InvalidProtocolBufferException e)
        {
            return new CommandDecision.Reject($"signed command is not a protobuf fleet.v1.HostCommand: {e.Message}");
        }

        if (command.HostId != context.HostId)
        {
            return new CommandDecision.Reject($"host_id '{Printable(command.HostId)}' is not this host ('{context.HostId}')");
        }

        if (CheckTimes(command, context) is { } timeError)
        {
            return new CommandDecision.Reject($"command {Printable(command.CommandId)}: {timeError}");
        }

        var nonce = command.Nonce;
        if (!NoncePattern().IsMatch(nonce))
        {
            return new CommandDecision.Reject(
                $"command {Printable(command.CommandId)}: nonce is not 16-128 characters of base64url, base64 or hex (length {nonce.Length})");
        }

        if (context.Replay.HasSeen(nonce))
        {
            return new CommandDecision.Reject($"command {Printable(command.CommandId)}: replayed (nonce seen before)");
        }

        var admission = new Admission(nonce, command.ExpiresAt.ToDateTimeOffset() + ClockSkew);
        switch (command.KindCase)
        {
            case HostCommand.KindOneofCase.Converge:
                var generation = command.Converge.Generation;
                if (generation <= 0)
                {
                    return new CommandDecision.Reject($"converge generation {generation} is not positive");
                }

                return generation <= context.ReportedGeneration
                    ? new CommandDecision.AlreadyDone(generation, context.ReportedGeneration, admission)
                    : new CommandDecision.Converge(generation, command.CommandId, admission);
            case HostCommand.KindOneofCase.Plan:
                var requestId = command.Plan.RequestId;
                if (!RequestIdPattern().IsMatch(requestId))
                {
                    return new CommandDecision.Reject($"plan request_id '{Printable(requestId)}' is not 1-64 letters, digits, '-' or '_'");
                }

                return new CommandDecision.Plan(requestId, command.CommandId, command.IssuedAt.ToDateTimeOffset(), admission);
            case HostCommand.KindOneofCase.Stage:
                var stage = command.Stage;
                var release = new Engine.ReleaseRef(stage.Release?.Series ?? "", stage.Release?.Commit ?? "");
                var artifact = ProtoMapping.ToDomain(stage.Artifact);
                var errors = new[] { Profiles.SpecValidator.CheckSeries(release.Series), Profiles.SpecValidator.CheckCommit(release.Commit) }
                    .OfType<string>()
                    .Concat(artifact is null ? [] : Profiles.SpecValidator.CheckArtifact(artifact))
                    .ToList();
                if (!RequestIdPattern().IsMatch(command.CommandId))
                {
                    errors.Add($"command_id '{Printable(command.CommandId)}' is not 1-64 letters, digits, '-' or '_'");
                }

                return errors.Count > 0
                    ? new CommandDecision.Reject($"stage command {Printable(command.CommandId)}: {string.Join("; ", errors)}")
                    : new CommandDecision.Stage(command.CommandId, release, artifact, stage.RolloutId.Length == 0 ? null : stage.RolloutId, admission);
            default:
                return new CommandDecision.Reject("no known command kind (sent by a newer controller? upgrade the agent)");
        }
    }

    private static string? CheckTimes(HostCommand command, CommandContext context)
    {
        if (command.IssuedAt is null || command.ExpiresAt is null)
        {
            return "issued_at and expires_at are required";
        }

        DateTimeOffset issued, expires;
        try
        {
            issued = command.IssuedAt.ToDateTimeOffset();
            expires = command.ExpiresAt.ToDateTimeOffset();
        }
        catch (InvalidOperationException)
        {
            return "issued_at or expires_at is not a valid timestamp";
        }

        var now = context.Now;
        if (now > expires + ClockSkew)
        {
            return $"expired at {expires:O} (now {now:O}, allowed clock skew {ClockSkew.TotalSeconds:0} s)";
        }

        if (issued > now + ClockSkew)
        {
            return $"issued in the future ({issued:O}, now {now:O}); check both clocks (NTP)";
        }

        if (expires - issued > MaxLifetime)
        {
            return $"expires {expires - issued} after it was issued; at most {MaxLifetime.TotalHours:0} h is accepted";
        }

        if (expires < issued)
        {
            return "expires_at is before issued_at";
        }

        if (context.Replay.RefuseIssuedBefore is { } floor && issued < floor)
        {
            return $"issued at {issued:O}, before the replay cache was reset at {floor:O} (its file was unreadable)";
        }

        return null;
    }

    private static string Printable(string value) =>
        new(value.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex RequestIdPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_+/=-]{16,128}\z")]
    private static partial Regex NoncePattern();
}
