using System.CommandLine;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet rollouts`: the rollout history, newest first.</summary>
internal static class RolloutsCommand
{
    public const int MaxLimit = 1000;

    public static Command Create(CommandContext context)
    {
        var limit = CommandContext.CountOption("--limit", "At most this many rollouts, the newest (1-1000) [default: 50]", 1, MaxLimit, "20");
        var output = CommandContext.OutputOption();
        var rollouts = new Command("rollouts", "The rollout history, newest first: state, release, host counts, who started it") { limit, output };
        rollouts.SetAction(async (parse, ct) =>
        {
            var request = new ListRolloutsRequest { Limit = parse.GetValue(limit) ?? 0 };
            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListRolloutsAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json<IReadOnlyList<RolloutJson>>([.. response.Rollouts.Select(RolloutView.ToJson)], OutputJsonContext.Default.IReadOnlyListRolloutJson);
                return ExitCodes.Ok;
            }

            if (response.Rollouts.Count == 0)
            {
                context.Renderer.Line("no rollouts yet; start one with `fleet rollout --version 18.0 --dry-run` to see its plan first");
                return ExitCodes.Ok;
            }

            var now = context.Host.Time.GetUtcNow();
            context.Renderer.Table(
                ["ID", "STATE", "RELEASE", "STARTED", "DURATION", "HOSTS", "BY", "NOTE"],
                response.Rollouts.Select(r => RolloutView.ToHistoryRow(r, now)).Select(r => (IReadOnlyList<string>)[r.Id, r.State, r.Release, r.Created, r.Duration, r.Hosts, r.By, r.Note]));
            return ExitCodes.Ok;
        });
        context.AddExamples(
            rollouts,
            "fleet rollouts",
            "fleet rollouts --limit 10 -o json | jq -r '.[] | select(.state == \"failed\") | .id'",
            "fleet rollout status r-3kq9t2mzpa                    # one of them in full, with its hosts");
        return rollouts;
    }
}
