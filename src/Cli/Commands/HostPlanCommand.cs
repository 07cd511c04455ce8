using System.CommandLine;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet host plan HOST`: what the host's agent would change right now, computed by the agent.</summary>
internal static class HostPlanCommand
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The controller answers DEADLINE_EXCEEDED itself at --timeout; the call's own deadline comes later.</summary>
    private static readonly TimeSpan CallMargin = TimeSpan.FromSeconds(15);

    public static Command Create(CommandContext context)
    {
        var idOrName = new Argument<string>("host") { Description = "Host id (like h-3kq9t2mzpa) or name" };
        var timeout = CommandContext.DurationOption("--timeout", "How long to wait for the agent's answer (at most 10m; exit 3 after it) [default: 1m]");
        var output = CommandContext.OutputOption();
        var plan = new Command("plan", "Show what the host's agent would change right now for its current spec (computed by the agent; changes nothing)")
        {
            idOrName,
            timeout,
            output,
        };
        plan.SetAction(async (parse, ct) =>
        {
            var wait = parse.GetValue(timeout);
            if (wait > MaxTimeout)
            {
                throw CliException.Usage($"--timeout: '{DurationParser.Format(wait.Value)}' is longer than the maximum of 10m (e.g. --timeout 2m)");
            }

            var request = new PlanHostRequest { Id = parse.GetValue(idOrName) ?? "", TimeoutSeconds = wait is { } w ? (int)w.TotalSeconds : 0 };
            using var connection = context.Connect(parse);
            HostPlan answer;
            try
            {
                answer = await connection.CallAsync(
                    (client, options) => client.PlanHostAsync(request, options), idempotent: true, ct, (wait ?? DefaultTimeout) + CallMargin);
            }
            catch (CliException e) when (e.ExitCode == ExitCodes.Timeout)
            {
                // The controller gives up at --timeout with DEADLINE_EXCEEDED; the channel surfaces only that a deadline passed.
                throw new CliException(
                    ExitCodes.Timeout,
                    $"host '{request.Id}' did not answer the plan request within {DurationParser.Format(wait ?? DefaultTimeout)}; it may be offline, "
                    + $"or its agent busy with a long converge; check `fleet host show {request.Id}` and try again, or pass a longer --timeout");
            }
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(PlanView.ToJson(answer), OutputJsonContext.Default.PlanJson);
            }
            else
            {
                context.Renderer.Plan(answer);
            }

            if (!answer.Success)
            {
                var reason = answer.Error.Length > 0 ? PlanView.Printable(answer.Error) : "some resources could not be observed (see above)";
                await context.Host.Err.WriteLineAsync($"error: the agent on {answer.HostName} could not compute the whole plan: {reason}");
            }

            return PlanView.ExitCode(answer);
        });
        context.AddExamples(
            plan,
            "fleet host plan web-01",
            "fleet host plan web-01 -o json | jq -r '.resources[] | select(.status == \"change\") | .id'",
            "fleet host plan h-3kq9t2mzpa --timeout 5m",
            "",
            "The agent fetches its current spec (the host's desired generation) and converges it in check",
            "mode: it observes and diffs, and changes nothing. Shown: how the profile sized the host, the",
            "resources that would change (with a count of unchanged ones), then their diffs (secrets redacted).",
            "A converge in progress on the host is waited for.",
            "",
            "Exit codes: 0 the plan was computed (whether or not something would change), 1 the agent could",
            "not compute all of it, 3 no answer within --timeout (host offline or busy), 4 controller unreachable,",
            "5 no such host.");
        return plan;
    }
}
