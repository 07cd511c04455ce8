using System.Text.RegularExpressions;
using Google.Protobuf;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>What the queue consumer does with one delivery; decided without side effects.</summary>
internal abstract record CommandDecision
{
    /// <summary>Not for us or not understandable: nack without requeue so the broker dead-letters it.</summary>
    internal sealed record Reject(string Reason) : CommandDecision;

    /// <summary>Already converged and reported (duplicate or reordered message): just ack.</summary>
    internal sealed record AlreadyDone(long Generation, long ReportedGeneration) : CommandDecision;

    /// <summary>Journal as pending, ack, converge.</summary>
    internal sealed record Converge(long Generation, string CommandId) : CommandDecision;

    /// <summary>Ack and queue a read-only plan (never journaled: a lost plan only makes its caller time out).</summary>
    internal sealed record Plan(string RequestId, string CommandId, DateTimeOffset? IssuedAt) : CommandDecision;
}

internal static partial class HostCommandDecoder
{
    public static CommandDecision Decide(ReadOnlySpan<byte> body, string hostId, long reportedGeneration)
    {
        if (body.IsEmpty)
        {
            return new CommandDecision.Reject("empty body (expected a protobuf fleet.v1.HostCommand)");
        }

        HostCommand command;
        try
        {
            command = HostCommand.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            return new CommandDecision.Reject($"body is not a protobuf fleet.v1.HostCommand: {e.Message}");
        }

        if (command.HostId != hostId)
        {
            return new CommandDecision.Reject($"host_id '{Printable(command.HostId)}' is not this host ('{hostId}')");
        }

        switch (command.KindCase)
        {
            case HostCommand.KindOneofCase.Converge:
                var generation = command.Converge.Generation;
                if (generation <= 0)
                {
                    return new CommandDecision.Reject($"converge generation {generation} is not positive");
                }

                return generation <= reportedGeneration
                    ? new CommandDecision.AlreadyDone(generation, reportedGeneration)
                    : new CommandDecision.Converge(generation, command.CommandId);
            case HostCommand.KindOneofCase.Plan:
                var requestId = command.Plan.RequestId;
                if (!RequestIdPattern().IsMatch(requestId))
                {
                    return new CommandDecision.Reject($"plan request_id '{Printable(requestId)}' is not 1-64 letters, digits, '-' or '_'");
                }

                return new CommandDecision.Plan(requestId, command.CommandId, command.IssuedAt?.ToDateTimeOffset());
            default:
                return new CommandDecision.Reject("no known command kind (sent by a newer controller? upgrade the agent)");
        }
    }

    private static string Printable(string value) =>
        new(value.Take(80).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    [GeneratedRegex(@"^[A-Za-z0-9_-]{1,64}\z")]
    private static partial Regex RequestIdPattern();
}
