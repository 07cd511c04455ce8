using System.CommandLine;
using System.CommandLine.Help;

namespace OdooFleet.Cli.Commands;

/// <summary>The `fleet` command tree.</summary>
internal static class FleetCommandLine
{
    public static RootCommand Build(CliHost host)
    {
        var context = new CommandContext(host);
        var root = new RootCommand(
            "fleet: manage a fleet of Odoo 18 servers through the OdooFleet controller.\n"
            + "Add hosts with an enrollment token, configure and watch them, and roll the fleet to a new Odoo commit.")
        {
            context.Controller,
            TokenCommand.Create(context),
            HostsCommand.CreateList(context),
            HostsCommand.CreateHost(context),
            RolloutCommand.Create(context),
            RolloutsCommand.Create(context),
            EventsCommand.Create(context),
            DriftCommand.Create(context),
            TenantCommand.Create(context),
            ApiTokenCommand.Create(context),
            AuditCommand.Create(context),
            AuditCommand.CreateWhoAmI(context),
        };
        root.HelpName = "fleet";

        context.AddExamples(
            root,
            "fleet token create --ttl 1h --name web-01   # then on the host: odoofleet-agent enroll ... --ca-sha256 ...",
            "fleet token list",
            "fleet hosts",
            "fleet host show web-01",
            "fleet host configure web-01 --domain erp.example.com --tls acme --acme-email ops@example.com",
            "fleet host plan web-01                      # what its agent would change, computed on the host",
            "fleet rollout --version 18.0 --wait",
            "fleet rollout status r-3kq9t2mzpa --watch",
            "fleet rollouts                              # history; fleet events --type Rollout --follow for transitions",
            "fleet drift --open                          # drift still in place on hosts; fleet drift show ID for the diff",
            "fleet drift policy web-01 --mode report --maintenance 'sat,sun 02:00 2h'",
            "fleet host remove web-01 --yes              # its certificate and broker user stop working at once",
            "fleet apitoken create --name alice --role operator",
            "fleet audit --since 7d",
            "fleet whoami",
            "",
            "Controller address (first that is set wins):",
            "  1. --controller URL[,URL...]",
            "  2. FLEET_CONTROLLER=URL[,URL...]",
            "  3. the config file $FLEET_CONFIG, else ~/.config/odoofleet/fleet.json, else /etc/odoofleet/fleet.json:",
            "     {\"controller\": \"http://127.0.0.1:7001\", \"controllers\": [\"http://a:7001\", \"http://b:7001\"], \"apiToken\": \"...\"}",
            "     \"controllers\" are tried in turn when one is unreachable; \"apiToken\" is sent as a bearer token.",
            "Every call needs an API token (`fleet apitoken create`; roles viewer < operator < admin).",
            "",
            "Exit codes:",
            "  0  ok (for --wait/--watch: the rollout succeeded; for host plan: the plan was computed)",
            "  1  the operation failed (e.g. the rollout failed or was aborted, the agent could not compute a plan)",
            "  2  bad usage or input (unknown option, bad --version or duration, rejected by the controller, host remove without --yes)",
            "  3  timeout (--timeout reached; the rollout itself carries on; a host did not answer a plan)",
            "  4  controller unreachable",
            "  5  not found, or permission denied / not authenticated",
            "  130  interrupted (Ctrl+C); a started rollout carries on");

        var help = root.Options.OfType<HelpOption>().Single();
        var helpWithExamples = new HelpWithExamplesAction((HelpAction)help.Action!, context.Examples);
        help.Action = helpWithExamples;

        // A bare `fleet` teaches rather than complains.
        root.SetAction(helpWithExamples.Invoke);
        return root;
    }
}
