using System.CommandLine;
using Google.Protobuf.WellKnownTypes;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet events`: the fleet's domain events (rollout transitions, drift, enrollment ...), oldest first.</summary>
internal static class EventsCommand
{
    public const int MaxLimit = 10_000;

    public static Command Create(CommandContext context)
    {
        var since = CommandContext.SinceOption("Events from this long ago (30m, 2d) or since this time (2026-11-23T12:00:00Z) [default: 24h]");
        var type = new Option<string?>("--type") { Description = "Only events whose type starts with this, e.g. Rollout or RolloutStep", HelpName = "prefix" };
        var subject = new Option<string?>("--subject") { Description = "Only events about this subject, e.g. a rollout id or a host id", HelpName = "subject" };
        var limit = CommandContext.CountOption("--limit", "At most this many events, the newest (1-10000) [default: 200]", 1, MaxLimit, "50");
        var follow = new Option<bool>("--follow", "-f")
        {
            Description = "Keep printing new events as they are stored (polls every 2s) until Ctrl+C",
        };
        var output = CommandContext.OutputOption();
        var events = new Command("events", "Domain events, oldest first: rollout transitions, drift, enrollment, ...")
        {
            since, type, subject, limit, follow, output,
        };
        events.SetAction(async (parse, ct) =>
        {
            var request = new ListEventsRequest
            {
                TypePrefix = parse.GetValue(type) ?? "",
                Subject = parse.GetValue(subject) ?? "",
                Limit = parse.GetValue(limit) ?? 0,
            };
            if (parse.GetValue(since) is { } from)
            {
                request.Since = Timestamp.FromDateTimeOffset(from(context.Host.Time.GetUtcNow()));
            }

            var json = (parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json;
            using var connection = context.Connect(parse);
            if (parse.GetValue(follow))
            {
                return await FollowAsync(context, connection, request, json, ct);
            }

            var response = await connection.CallAsync((client, options) => client.ListEventsAsync(request, options), idempotent: true, ct);
            if (json)
            {
                context.Renderer.Json<IReadOnlyList<EventJson>>([.. response.Events.Select(EventView.ToJson)], OutputJsonContext.Default.IReadOnlyListEventJson);
                return ExitCodes.Ok;
            }

            if (response.Events.Count == 0)
            {
                context.Renderer.Line("no events in that window (widen it with --since 7d)");
                return ExitCodes.Ok;
            }

            context.Renderer.Table(["TIME", "TYPE", "SUBJECT", "DATA"], response.Events.Select(EventView.ToRow));
            return ExitCodes.Ok;
        });
        context.AddExamples(
            events,
            "fleet events                                         # the last 24 hours",
            "fleet events --type Rollout --subject r-3kq9t2mzpa   # one rollout's transitions",
            "fleet events --since 2h --type RolloutStep --follow  # keeps printing until Ctrl+C",
            "fleet events --follow -o json | jq -c 'select(.type == \"RolloutStepReverted\") | .data'",
            "",
            "--follow prints one line per event (with -o json: one compact JSON object per line) and polls",
            "the controller every 2s, asking again for the last minute so an event stored late is still",
            "shown, once. An event stored more than a minute after it occurred (e.g. controllers whose clocks",
            "disagree by more) can be missed. Ctrl+C ends it (exit 130).");
        return events;
    }

    private static async Task<int> FollowAsync(CommandContext context, FleetConnection connection, ListEventsRequest request, bool json, CancellationToken ct)
    {
        var poller = new EventPoller(connection, context.Host);
        try
        {
            await poller.FollowAsync(
                request,
                events =>
                {
                    foreach (var e in events)
                    {
                        context.Renderer.Line(json
                            ? System.Text.Json.JsonSerializer.Serialize(EventView.ToJson(e), OutputJsonLinesContext.Default.EventJson)
                            : EventView.Line(e));
                    }

                    return context.Host.Out.FlushAsync(ct);
                },
                ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl+C is how a follow ends: no error line, the documented exit code.
        }

        return ExitCodes.Interrupted;
    }
}
