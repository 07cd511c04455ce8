using System.CommandLine;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet apitoken create|list|revoke`: credentials for people and tools, each with a role.</summary>
internal static class ApiTokenCommand
{
    public static Command Create(CommandContext context)
    {
        var group = new Command("apitoken", "API tokens: who may use the controller, with which role (viewer < operator < admin; admin only)")
        {
            CreateCreate(context),
            CreateList(context),
            CreateRevoke(context),
        };
        context.AddExamples(
            group,
            "fleet apitoken create --name alice --role operator",
            "fleet apitoken list",
            "fleet apitoken revoke alice",
            "",
            "Roles: viewer reads hosts and rollouts; operator also starts rollouts and plans;",
            "admin also manages tokens, host settings and removal, and reads the audit log.");
        return group;
    }

    private static Command CreateCreate(CommandContext context)
    {
        var name = new Option<string>("--name")
        {
            Description = "Who or what uses it, e.g. alice or ci (lowercase letters, digits, inner hyphens)",
            HelpName = "name",
            Required = true,
        };
        var role = new Option<Role>("--role")
        {
            Description = "What it may do: viewer, operator or admin",
            HelpName = "viewer|operator|admin",
            Required = true,
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                switch (text)
                {
                    case "viewer":
                        return Role.Viewer;
                    case "operator":
                        return Role.Operator;
                    case "admin":
                        return Role.Admin;
                    default:
                        result.AddError($"--role: '{Printable(text)}' is not a role; use viewer, operator or admin (e.g. --role viewer)");
                        return Role.Unspecified;
                }
            },
        };
        var ttl = CommandContext.DurationOption("--ttl", "How long the token stays valid (1h, 7d, 30d) [default: it does not expire]");
        var output = CommandContext.OutputOption();
        var create = new Command("create", "Create an API token; it is shown only this once") { name, role, ttl, output };
        create.SetAction(async (parse, ct) =>
        {
            var request = new CreateApiTokenRequest
            {
                Name = parse.GetValue(name) ?? "",
                Role = parse.GetValue(role),
                TtlSeconds = parse.GetValue(ttl) is { } t ? (long)t.TotalSeconds : 0,
            };
            using var connection = context.Connect(parse);
            var created = await connection.CallAsync((client, options) => client.CreateApiTokenAsync(request, options), idempotent: false, ct);
            var now = context.Host.Time.GetUtcNow();
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(AccessView.ToJson(created, now), OutputJsonContext.Default.ApiTokenJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line($"token:   {created.Token}");
            context.Renderer.Line($"id:      {created.Id}");
            context.Renderer.Line($"name:    {created.Name}");
            context.Renderer.Line($"role:    {AccessView.RoleName(created.Role)}");
            context.Renderer.Line($"expires: {Formats.Iso(created.ExpiresAt) ?? "never"}");
            context.Renderer.Line("");
            context.Renderer.Line("The token is shown only this once; the controller keeps only its hash. Its user puts it in the");
            context.Renderer.Line("fleet config file ~/.config/odoofleet/fleet.json as {\"apiToken\": \"...\"} (mode 0600).");
            return ExitCodes.Ok;
        });
        context.AddExamples(
            create,
            "fleet apitoken create --name alice --role operator",
            "fleet apitoken create --name ci --role viewer --ttl 30d -o json | jq -r .token");
        return create;
    }

    private static Command CreateList(CommandContext context)
    {
        var output = CommandContext.OutputOption();
        var list = new Command("list", "List API tokens: id, name, role, state, expiry, last use (never the tokens themselves)") { output };
        list.SetAction(async (parse, ct) =>
        {
            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListApiTokensAsync(new ListApiTokensRequest(), options), idempotent: true, ct);
            var now = context.Host.Time.GetUtcNow();
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json<IReadOnlyList<ApiTokenJson>>([.. response.Tokens.Select(t => AccessView.ToJson(t, now))], OutputJsonContext.Default.IReadOnlyListApiTokenJson);
                return ExitCodes.Ok;
            }

            if (response.Tokens.Count == 0)
            {
                context.Renderer.Line("no API tokens yet (only the bootstrap token works); make one with `fleet apitoken create --name alice --role operator`");
                return ExitCodes.Ok;
            }

            context.Renderer.Table(["ID", "NAME", "ROLE", "STATE", "EXPIRES", "LAST USED", "CREATED BY"], response.Tokens.Select(t => AccessView.ToRow(t, now)));
            return ExitCodes.Ok;
        });
        context.AddExamples(list, "fleet apitoken list", "fleet apitoken list -o json | jq -r '.[] | select(.state == \"active\") | .name'");
        return list;
    }

    private static Command CreateRevoke(CommandContext context)
    {
        var idOrName = new Argument<string>("token") { Description = "API token id (like k-3kq9t2mzpa) or name" };
        var output = CommandContext.OutputOption();
        var revoke = new Command("revoke", "Revoke an API token: calls with it are refused from now on") { idOrName, output };
        revoke.SetAction(async (parse, ct) =>
        {
            var request = new RevokeApiTokenRequest { Id = parse.GetValue(idOrName) ?? "" };
            using var connection = context.Connect(parse);
            var revoked = await connection.CallAsync((client, options) => client.RevokeApiTokenAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(AccessView.ToJson(revoked, context.Host.Time.GetUtcNow()), OutputJsonContext.Default.ApiTokenJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line($"{revoked.Id} ({revoked.Name}, {AccessView.RoleName(revoked.Role)}): revoked at {Formats.Iso(revoked.RevokedAt) ?? "-"}");
            return ExitCodes.Ok;
        });
        context.AddExamples(revoke, "fleet apitoken revoke alice", "fleet apitoken revoke k-3kq9t2mzpa");
        return revoke;
    }

    private static string Printable(string value) =>
        new([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
