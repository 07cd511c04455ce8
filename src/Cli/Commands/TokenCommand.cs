using System.CommandLine;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet token create|list|revoke`: single-use enrollment tokens for new hosts.</summary>
internal static class TokenCommand
{
    public static Command Create(CommandContext context)
    {
        var token = new Command("token", "Enrollment tokens: how new hosts join the fleet (admin)")
        {
            CreateCreate(context),
            CreateList(context),
            CreateRevoke(context),
        };
        context.AddExamples(token, "fleet token create --ttl 1h --name web-01 --label role=web", "fleet token list", "fleet token revoke t-3kq9t2mzpa");
        return token;
    }

    private static Command CreateCreate(CommandContext context)
    {
        var ttl = CommandContext.DurationOption("--ttl", "How long the token stays valid (90s, 30m, 1h, 2d; at most 30d) [default: controller's, 1h]");
        var name = new Option<string?>("--name")
        {
            Description = "Bind the token to this host name: the host enrolls under it, and no other name may use the token",
            HelpName = "host",
        };
        var label = new Option<string[]>("--label")
        {
            Description = "A label the enrolled host gets (repeat for several), e.g. role=web or example.com/tier=gold",
            HelpName = "key=value",
        };
        var output = CommandContext.OutputOption();
        var create = new Command("create", "Create a single-use enrollment token; a new host presents it once to join the fleet")
        {
            ttl,
            name,
            label,
            output,
        };
        create.SetAction(async (parse, ct) =>
        {
            var request = new CreateEnrollmentTokenRequest
            {
                TtlSeconds = parse.GetValue(ttl) is { } t ? (long)t.TotalSeconds : 0,
                HostName = parse.GetValue(name) ?? "",
            };
            foreach (var (key, value) in LabelParser.Parse(parse.GetValue(label) ?? [], "--label"))
            {
                request.Labels[key] = value;
            }

            using var connection = context.Connect(parse);
            var created = await connection.CallAsync((client, options) => client.CreateEnrollmentTokenAsync(request, options), idempotent: false, ct);
            var expiresAt = Formats.Iso(created.ExpiresAt);
            var enroll = $"odoofleet-agent enroll --controller {FleetConnection.Display(connection.CurrentAddress)} --token {created.Token}"
                + (created.CaSha256.Length > 0 ? $" --ca-sha256 {created.CaSha256}" : "");
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new TokenJson(created.Token, expiresAt)
                    {
                        Id = Formats.NullIfEmpty(created.Id),
                        HostName = Formats.NullIfEmpty(created.HostName),
                        Labels = new SortedDictionary<string, string>(created.Labels, StringComparer.Ordinal),
                        CaSha256 = Formats.NullIfEmpty(created.CaSha256),
                        EnrollCommand = enroll,
                    },
                    OutputJsonContext.Default.TokenJson);
                await context.Host.Err.WriteLineAsync($"enroll a host by running on it, as root: {enroll}");
                return ExitCodes.Ok;
            }

            var remaining = created.ExpiresAt is null ? "" : $" (in {DurationParser.Format(created.ExpiresAt.ToDateTimeOffset() - context.Host.Time.GetUtcNow())})";
            context.Renderer.Line($"token:     {created.Token}");
            context.Renderer.Line($"id:        {(created.Id.Length == 0 ? "-" : created.Id)}");
            context.Renderer.Line($"expires:   {expiresAt ?? "-"}{remaining}");
            context.Renderer.Line($"host name: {(created.HostName.Length == 0 ? "(any; the host's own name or its --name)" : created.HostName)}");
            context.Renderer.Line($"labels:    {AccessView.LabelText(created.Labels)}");
            context.Renderer.Line($"ca_sha256: {(created.CaSha256.Length == 0 ? "-" : created.CaSha256)}");
            context.Renderer.Line("");
            context.Renderer.Line("The token is shown only this once and works for one host. On the new host, as root, run:");
            context.Renderer.Line($"  {enroll}");
            return ExitCodes.Ok;
        });
        context.AddExamples(
            create,
            "fleet token create",
            "fleet token create --ttl 30m --name web-01 --label role=web --label example.com/tier=gold",
            "fleet token create --ttl 2d -o json    # {\"token\": \"...\", \"id\": \"t-...\", \"caSha256\": \"...\", \"enrollCommand\": \"...\"}",
            "",
            "Then on the new host, as root (the command is printed with the real values):",
            "  odoofleet-agent enroll --controller URL --token TOKEN --ca-sha256 HEX",
            "--ca-sha256 pins the fleet's CA: the agent trusts only the controller holding it.",
            "A token made with --name enrolls only that host name; its --label values become the host's labels.");
        return create;
    }

    private static Command CreateList(CommandContext context)
    {
        var all = new Option<bool>("--all") { Description = "Also list used, expired and revoked tokens (default: pending ones only)" };
        var output = CommandContext.OutputOption();
        var list = new Command("list", "List enrollment tokens: id, state, bound host name, labels, expiry (never the tokens themselves)") { all, output };
        list.SetAction(async (parse, ct) =>
        {
            var request = new ListEnrollmentTokensRequest { IncludeSpent = parse.GetValue(all) };
            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListEnrollmentTokensAsync(request, options), idempotent: true, ct);
            var now = context.Host.Time.GetUtcNow();
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json<IReadOnlyList<EnrollmentTokenJson>>(
                    [.. response.Tokens.Select(t => AccessView.ToJson(t, now))], OutputJsonContext.Default.IReadOnlyListEnrollmentTokenJson);
                return ExitCodes.Ok;
            }

            if (response.Tokens.Count == 0)
            {
                context.Renderer.Line(request.IncludeSpent ? "no enrollment tokens yet; make one with `fleet token create`" : "no pending enrollment tokens (see all with --all)");
                return ExitCodes.Ok;
            }

            context.Renderer.Table(
                ["ID", "STATE", "HOST NAME", "LABELS", "EXPIRES", "USED BY", "CREATED BY"], response.Tokens.Select(t => AccessView.ToRow(t, now)));
            return ExitCodes.Ok;
        });
        context.AddExamples(list, "fleet token list", "fleet token list --all -o json | jq -r '.[] | select(.state == \"used\") | .usedByHost'");
        return list;
    }

    private static Command CreateRevoke(CommandContext context)
    {
        var id = new Argument<string>("id") { Description = "Enrollment token id (like t-3kq9t2mzpa), from `fleet token list`" };
        var output = CommandContext.OutputOption();
        var revoke = new Command("revoke", "Revoke an unused enrollment token: no host can enroll with it any more") { id, output };
        revoke.SetAction(async (parse, ct) =>
        {
            var request = new RevokeEnrollmentTokenRequest { Id = parse.GetValue(id) ?? "" };
            using var connection = context.Connect(parse);
            var revoked = await connection.CallAsync((client, options) => client.RevokeEnrollmentTokenAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(AccessView.ToJson(revoked, context.Host.Time.GetUtcNow()), OutputJsonContext.Default.EnrollmentTokenJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line($"{revoked.Id}: revoked at {Formats.Iso(revoked.RevokedAt) ?? "-"}; a host presenting it is refused");
            return ExitCodes.Ok;
        });
        context.AddExamples(
            revoke,
            "fleet token revoke t-3kq9t2mzpa",
            "",
            "A used token has done its work: to take its host out of the fleet, run `fleet host remove HOST --yes`.");
        return revoke;
    }
}
