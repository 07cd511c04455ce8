using System.CommandLine;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet hosts` and `fleet host show`: what the fleet looks like now.</summary>
internal static class HostsCommand
{
    public static Command CreateList(CommandContext context)
    {
        var output = CommandContext.OutputOption();
        var hosts = new Command("hosts", "List enrolled hosts: state, generation applied/desired, Odoo release, last heartbeat") { output };
        hosts.SetAction(async (parse, ct) =>
        {
            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListHostsAsync(new ListHostsRequest(), options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(HostView.ToJson(response.Hosts), OutputJsonContext.Default.IReadOnlyListHostJson);
            }
            else
            {
                var now = context.Host.Time.GetUtcNow();
                context.Renderer.Hosts([.. response.Hosts.Select(h => HostView.ToRow(h, now))]);
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(
            hosts,
            "fleet hosts",
            "fleet hosts -o json | jq -r '.[] | select(.state == \"offline\") | .name'",
            "",
            "GEN is applied/desired generation; '*' marks a host that has not converged to its latest spec yet.");
        return hosts;
    }

    public static Command CreateHost(CommandContext context)
    {
        var output = CommandContext.OutputOption();
        var idOrName = new Argument<string>("host") { Description = "Host id (like h-3kq9t2mzpa) or name" };
        var show = new Command("show", "Show one host in detail: state, release, last converge, profile settings, facts and metrics") { idOrName, output };
        show.SetAction(async (parse, ct) =>
        {
            var request = new GetHostRequest { Id = parse.GetValue(idOrName) ?? "" };
            using var connection = context.Connect(parse);
            var host = await connection.CallAsync((client, options) => client.GetHostAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(HostView.ToJson(host, includeFacts: true, includeProfile: true), OutputJsonContext.Default.HostJson);
            }
            else
            {
                context.Renderer.HostDetails(HostView.Details(host, context.Host.Time.GetUtcNow()));
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(show, "fleet host show web-01", "fleet host show h-3kq9t2mzpa -o json | jq .metrics", "fleet host show web-01 -o json | jq .profile");

        var group = new Command("host", "Inspect, configure or remove one host, or see what its agent would change")
        {
            show,
            HostConfigureCommand.Create(context),
            HostPlanCommand.Create(context),
            HostRemoveCommand.Create(context),
        };
        context.AddExamples(
            group,
            "fleet host show web-01",
            "fleet host configure web-01 --domain erp.example.com --tls acme --acme-email ops@example.com",
            "fleet host plan web-01",
            "fleet host remove web-01 --yes");
        return group;
    }
}
