using System.CommandLine;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

internal enum RolloutAction
{
    Pause,
    Resume,
    Abort,
}

/// <summary>`fleet rollout pause|resume|abort ID` and `fleet rollout rollback ID [--wait]` (operator).</summary>
internal static class RolloutActionCommands
{
    public static Command Create(CommandContext context, RolloutAction action)
    {
        var (name, description, done) = action switch
        {
            RolloutAction.Pause => ("pause", "Pause a running rollout: no new host starts; hosts already updating finish", "paused"),
            RolloutAction.Resume => ("resume", "Resume a paused rollout (paused by pause or after its canary batch)", "resumed"),
            _ => ("abort", "Stop a rollout for good: hosts not started yet are cancelled, hosts updating finish", "aborted"),
        };
        var id = RolloutCommand.IdArgument();
        var output = CommandContext.OutputOption();
        var command = new Command(name, description) { id, output };
        command.SetAction(async (parse, ct) =>
        {
            var request = new RolloutActionRequest { Id = parse.GetValue(id) ?? "" };
            using var connection = context.Connect(parse);
            var rollout = await connection.CallAsync(
                (client, options) => action switch
                {
                    RolloutAction.Pause => client.PauseRolloutAsync(request, options),
                    RolloutAction.Resume => client.ResumeRolloutAsync(request, options),
                    _ => client.AbortRolloutAsync(request, options),
                },
                idempotent: false,
                ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(RolloutView.ToJson(rollout), OutputJsonContext.Default.RolloutJson);
                return ExitCodes.Ok;
            }

            context.Renderer.Line($"rollout {rollout.Id} {done}");
            context.Renderer.Line(RolloutView.Summary(rollout));
            context.Renderer.Line(action switch
            {
                RolloutAction.Pause => $"resume it with: fleet rollout resume {rollout.Id}",
                RolloutAction.Resume => $"follow it with: fleet rollout status {rollout.Id} --watch",
                _ => $"hosts it changed can be moved back with: fleet rollout rollback {rollout.Id}",
            });
            return ExitCodes.Ok;
        });
        context.AddExamples(
            command,
            $"fleet rollout {name} r-3kq9t2mzpa",
            $"fleet rollout {name} r-3kq9t2mzpa -o json | jq -r .state",
            "",
            action switch
            {
                RolloutAction.Pause => "Pausing twice is harmless. A paused rollout holds its hosts: no other rollout may take them.",
                RolloutAction.Resume => "A rollout paused after its canary (--pause-after-canary) goes on with its first batch.",
                _ => "An aborted rollout cannot be resumed; start a new one. Exit code of --wait/--watch on it: 1.",
            });
        return command;
    }

    public static Command CreateRollback(CommandContext context)
    {
        var id = RolloutCommand.IdArgument();
        var wait = new Option<bool>("--wait") { Description = "Follow the new rollout until it ends: exit 0 if it succeeded, 1 if it failed or was aborted, 3 on timeout" };
        var timeout = CommandContext.DurationOption("--timeout", "With --wait: stop waiting after this long (exit 3); the rollback itself carries on [default: 30m]");
        var output = CommandContext.OutputOption();
        var rollback = new Command(
            "rollback",
            "Start a new rollout that moves every host the given (finished) rollout changed back to the release it ran before")
        {
            id, wait, timeout, output,
        };
        rollback.SetAction(async (parse, ct) =>
        {
            var waitTimeout = parse.GetValue(timeout);
            if (waitTimeout is not null && !parse.GetValue(wait))
            {
                throw CliException.Usage("--timeout only applies with --wait (e.g. fleet rollout rollback ID --wait --timeout 1h)");
            }

            var request = new RolloutActionRequest { Id = parse.GetValue(id) ?? "" };
            var format = parse.GetValue(output) ?? OutputFormat.Table;
            using var connection = context.Connect(parse);

            // Starts a rollout: never repeated on another controller unless it provably was not sent.
            var started = await connection.CallAsync((client, options) => client.RollbackRolloutAsync(request, options), idempotent: false, ct);
            if (!parse.GetValue(wait))
            {
                RolloutCommand.PrintStarted(context, started, format, $"rollback rollout {started.Id} of {request.Id} started");
                return ExitCodes.Ok;
            }

            if (format == OutputFormat.Table)
            {
                context.Renderer.Line($"rollback rollout {started.Id} of {request.Id} started");
            }
            else
            {
                await context.Host.Err.WriteLineAsync($"fleet: rollback rollout {started.Id} of {request.Id} started");
            }

            return await RolloutCommand.FollowAsync(context, connection, started, waitTimeout ?? RolloutCommand.DefaultWaitTimeout, format, ct);
        });
        context.AddExamples(
            rollback,
            "fleet rollout rollback r-3kq9t2mzpa                  # prints the new rollout's id",
            "fleet rollout rollback r-3kq9t2mzpa --wait",
            "fleet rollout rollback r-3kq9t2mzpa -o json | jq -r .id",
            "",
            "Each host goes back to the release it ran before the given rollout reached it, with the same",
            "steps and policy as any rollout (backup, switch, module update, health gate, revert on failure).");
        return rollback;
    }
}
