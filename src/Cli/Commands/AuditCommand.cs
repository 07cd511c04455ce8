using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet audit` and `fleet whoami`: who did what, and who the caller is.</summary>
internal static class AuditCommand
{
    private const int MaxLimit = 10_000;

    public static Command Create(CommandContext context)
    {
        var since = new Option<Func<DateTimeOffset, DateTimeOffset>?>("--since")
        {
            Description = "Entries from this long ago (30m, 2d) or this time (2026-11-23T12:00:00Z) [default: 24h]",
            HelpName = "duration|time",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time)
                    && text.Contains('-', StringComparison.Ordinal))
                {
                    return _ => time;
                }

                if (DurationParser.TryParse(text, "--since", out var duration, out var error))
                {
                    return now => now - duration;
                }

                result.AddError($"{error}, or a time like 2026-11-23T12:00:00Z");
                return null;
            },
        };
        var actor = new Option<string?>("--actor") { Description = "Only this actor, e.g. bootstrap, anonymous or 'token:alice (k-3kq9t2mzpa)'", HelpName = "actor" };
        var limit = new Option<int?>("--limit")
        {
            Description = "At most this many entries, the newest (1-10000) [default: 1000]",
            HelpName = "N",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxLimit)
                {
                    return n;
                }

                result.AddError($"--limit: '{text}' is not a number from 1 to {MaxLimit} (e.g. --limit 100)");
                return null;
            },
        };
        var output = CommandContext.OutputOption();
        var audit = new Command("audit", "The audit log (admin): every change and every refused call, oldest first") { since, actor, limit, output };
        audit.SetAction(async (parse, ct) =>
        {
            var now = context.Host.Time.GetUtcNow();
            var request = new ListAuditRequest { Actor = parse.GetValue(actor) ?? "", Limit = parse.GetValue(limit) ?? 0 };
            if (parse.GetValue(since) is { } from)
            {
                request.Since = Timestamp.FromDateTimeOffset(from(now));
            }

            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListAuditAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json<IReadOnlyList<AuditJson>>([.. response.Entries.Select(AccessView.ToJson)], OutputJsonContext.Default.IReadOnlyListAuditJson);
                return ExitCodes.Ok;
            }

            if (response.Entries.Count == 0)
            {
                context.Renderer.Line("no audit entries in that window (widen it with --since 7d)");
                return ExitCodes.Ok;
            }

            context.Renderer.Table(["TIME", "ACTOR", "ROLE", "ACTION", "TARGET", "RESULT"], response.Entries.Select(AccessView.ToRow));
            return ExitCodes.Ok;
        });
        context.AddExamples(
            audit,
            "fleet audit",
            "fleet audit --since 7d --actor bootstrap",
            "fleet audit --since 2026-11-23T00:00:00Z --limit 100 -o json | jq -r '.[] | select(.result != \"ok\") | .actor'",
            "",
            "RESULT is ok, denied: ..., invalid: ..., not found: ... or error: .... The log is append-only.");
        return audit;
    }

    public static Command CreateWhoAmI(CommandContext context)
    {
        var output = CommandContext.OutputOption();
        var whoami = new Command("whoami", "Who the controller takes this caller for: actor, role and token id") { output };
        whoami.SetAction(async (parse, ct) =>
        {
            using var connection = context.Connect(parse);
            var me = await connection.CallAsync((client, options) => client.WhoAmIAsync(new WhoAmIRequest(), options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(new WhoAmIJson(me.Actor, AccessView.RoleName(me.Role), Formats.NullIfEmpty(me.TokenId)), OutputJsonContext.Default.WhoAmIJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line($"actor: {me.Actor}");
            context.Renderer.Line($"role:  {AccessView.RoleName(me.Role)}");
            if (me.TokenId.Length > 0)
            {
                context.Renderer.Line($"token: {me.TokenId}");
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(whoami, "fleet whoami", "fleet whoami -o json | jq -r .role");
        return whoami;
    }
}
