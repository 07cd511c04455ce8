using System.CommandLine;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet host remove HOST --yes`: takes a host out of the fleet at once.</summary>
internal static class HostRemoveCommand
{
    private const string Consequences =
        "the host's agent certificate and broker user stop working at once, the controller forgets the host, "
        + "and it must be re-enrolled (a new `fleet token create`) to return; the server itself and its Odoo are not touched";

    public static Command Create(CommandContext context)
    {
        var idOrName = new Argument<string>("host") { Description = "Host id (like h-3kq9t2mzpa) or name" };
        var yes = new Option<bool>("--yes") { Description = "Confirm the removal (required: it cannot be undone)" };
        var output = CommandContext.OutputOption();
        var remove = new Command("remove", "Remove a host from the fleet: its certificate and broker user are revoked at once (admin)") { idOrName, yes, output };
        remove.SetAction(async (parse, ct) =>
        {
            var host = parse.GetValue(idOrName) ?? "";
            if (!parse.GetValue(yes))
            {
                throw CliException.Usage($"removing '{host}' needs --yes: {Consequences}; run `fleet host remove {host} --yes`");
            }

            var request = new RemoveHostRequest { Id = host };
            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.RemoveHostAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(new RemoveHostJson(response.HostId, response.HostName, response.Removed), OutputJsonContext.Default.RemoveHostJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line(response.Removed
                ? $"{response.HostName} ({response.HostId}) removed: its certificate and broker user no longer work; re-enroll it to bring it back"
                : $"{(response.HostName.Length > 0 ? response.HostName : host)} was already removed; nothing changed");
            return ExitCodes.Ok;
        });
        context.AddExamples(
            remove,
            "fleet host remove web-01 --yes",
            "fleet host remove h-3kq9t2mzpa --yes -o json",
            "",
            "What removal does: " + Consequences + ".");
        return remove;
    }
}
