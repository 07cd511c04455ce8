using System.CommandLine;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet token create`: a single-use enrollment token for a new host.</summary>
internal static class TokenCommand
{
    public static Command Create(CommandContext context)
    {
        var ttl = CommandContext.DurationOption("--ttl", "How long the token stays valid (90s, 30m, 1h, 2d; at most 30d) [default: controller's, 1h]");
        var output = CommandContext.OutputOption();
        var create = new Command("create", "Create a single-use enrollment token; a new host presents it once to join the fleet")
        {
            ttl,
            output,
        };
        create.SetAction((parse, ct) => RunAsync(context, parse, parse.GetValue(ttl), (parse.GetValue(output) ?? OutputFormat.Table), ct));
        context.AddExamples(
            create,
            "fleet token create",
            "fleet token create --ttl 30m",
            "fleet token create --ttl 2d -o json    # {\"token\": \"...\", \"expiresAt\": \"...\"}",
            "",
            "Then on the new host, as root:",
            "  odoofleet-agent enroll --controller http://CONTROLLER:7001 --token TOKEN");

        var token = new Command("token", "Enrollment tokens: how new hosts join the fleet") { create };
        context.AddExamples(token, "fleet token create --ttl 1h");
        return token;
    }

    private static async Task<int> RunAsync(CommandContext context, ParseResult parse, TimeSpan? ttl, OutputFormat format, CancellationToken ct)
    {
        using var connection = context.Connect(parse);
        var request = new CreateEnrollmentTokenRequest { TtlSeconds = ttl is { } t ? (long)t.TotalSeconds : 0 };
        var token = await connection.CallAsync((client, options) => client.CreateEnrollmentTokenAsync(request, options), idempotent: false, ct);
        var expiresAt = Formats.Iso(token.ExpiresAt);
        var hint = $"odoofleet-agent enroll --controller {FleetConnection.Display(connection.CurrentAddress)} --token {token.Token}";
        if (format == OutputFormat.Json)
        {
            context.Renderer.Json(new TokenJson(token.Token, expiresAt), OutputJsonContext.Default.TokenJson);
            await context.Host.Err.WriteLineAsync($"enroll a host by running on it, as root: {hint}");
            return ExitCodes.Ok;
        }

        var remaining = token.ExpiresAt is null ? "" : $" (in {DurationParser.Format(token.ExpiresAt.ToDateTimeOffset() - context.Host.Time.GetUtcNow())})";
        context.Renderer.Line($"token:   {token.Token}");
        context.Renderer.Line($"expires: {expiresAt ?? "-"}{remaining}");
        context.Renderer.Line("");
        context.Renderer.Line("The token is shown only this once and works for one host. On the new host, as root, run:");
        context.Renderer.Line($"  {hint}");
        return ExitCodes.Ok;
    }
}
