using System.CommandLine;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>`fleet rollout --version SERIES [--wait]` and `fleet rollout status ID [--watch]`.</summary>
internal static class RolloutCommand
{
    public static readonly TimeSpan DefaultWaitTimeout = TimeSpan.FromMinutes(30);

    public static Command Create(CommandContext context)
    {
        var version = new Option<string?>("--version")
        {
            Description = "Odoo series to move the fleet to, like 18.0; resolved to one commit when the rollout starts",
            HelpName = "series",
        };
        version.Validators.Add(result =>
        {
            if (!SeriesValidator.TryValidate(result.GetValueOrDefault<string?>(), "--version", out var error))
            {
                result.AddError(error);
            }
        });
        var wait = new Option<bool>("--wait") { Description = "Follow the rollout until it ends: exit 0 if it succeeded, 1 if it failed, 3 on timeout" };
        var timeout = CommandContext.DurationOption("--timeout", "With --wait: stop waiting after this long (exit 3); the rollout itself carries on [default: 30m]");
        var output = CommandContext.OutputOption();

        var rollout = new Command("rollout", "Move every host to the current commit of an Odoo series, or look at a rollout")
        {
            version,
            wait,
            timeout,
            output,
            CreateStatus(context),
        };
        rollout.SetAction(async (parse, ct) =>
        {
            var series = parse.GetValue(version)
                ?? throw CliException.Usage("--version is required to start a rollout (e.g. fleet rollout --version 18.0); to look at one: fleet rollout status ID");
            var waitTimeout = parse.GetValue(timeout);
            if (waitTimeout is not null && !parse.GetValue(wait))
            {
                throw CliException.Usage("--timeout only applies with --wait (e.g. fleet rollout --version 18.0 --wait --timeout 1h)");
            }

            var format = (parse.GetValue(output) ?? OutputFormat.Table);
            using var connection = context.Connect(parse);
            var request = new StartRolloutRequest { Series = series };
            var started = await connection.CallAsync((client, options) => client.StartRolloutAsync(request, options), idempotent: false, ct);
            if (!parse.GetValue(wait))
            {
                if (format == OutputFormat.Json)
                {
                    context.Renderer.Json(RolloutView.ToJson(started), OutputJsonContext.Default.RolloutJson);
                }
                else
                {
                    context.Renderer.Line(Formats.Invariant(
                        $"rollout {started.Id} started: {Formats.ShortRelease(started.Release)} on {started.Hosts.Count} host(s)"));
                    context.Renderer.Line($"follow it with: fleet rollout status {started.Id} --watch");
                }

                return ExitCodes.Ok;
            }

            return await FollowAsync(context, connection, started, waitTimeout ?? DefaultWaitTimeout, format, ct);
        });
        context.AddExamples(
            rollout,
            "fleet rollout --version 18.0                        # start, print the id, return",
            "fleet rollout --version 18.0 --wait                 # start and follow live until it ends",
            "fleet rollout --version 18.0 --wait --timeout 2h -o json",
            "fleet rollout status r-3kq9t2mzpa --watch",
            "",
            "A rollout runs on the controllers, not in this command: interrupting --wait or hitting the",
            "timeout leaves it running; a controller restart while following just reconnects.");
        return rollout;
    }

    private static Command CreateStatus(CommandContext context)
    {
        var id = new Argument<string>("id") { Description = "Rollout id, like r-3kq9t2mzpa (printed by fleet rollout)" };
        var watch = new Option<bool>("--watch") { Description = "Follow until the rollout ends: exit 0 if it succeeded, 1 if it failed, 3 on timeout" };
        var timeout = CommandContext.DurationOption("--timeout", "With --watch: stop watching after this long (exit 3) [default: no limit]");
        var output = CommandContext.OutputOption();
        var status = new Command("status", "Show a rollout: its release, state and every host's progress") { id, watch, timeout, output };
        status.SetAction(async (parse, ct) =>
        {
            var format = (parse.GetValue(output) ?? OutputFormat.Table);
            var watchTimeout = parse.GetValue(timeout);
            if (watchTimeout is not null && !parse.GetValue(watch))
            {
                throw CliException.Usage("--timeout only applies with --watch (e.g. fleet rollout status ID --watch --timeout 1h)");
            }

            var request = new GetRolloutRequest { Id = parse.GetValue(id) ?? "" };
            using var connection = context.Connect(parse);

            // One unary call first: fails fast (unreachable, not found) before any reconnect loop.
            var current = await connection.CallAsync((client, options) => client.GetRolloutAsync(request, options), idempotent: true, ct);
            if (!parse.GetValue(watch))
            {
                Print(context, current, format);
                return ExitCodes.Ok;
            }

            return await FollowAsync(context, connection, current, watchTimeout, format, ct);
        });
        context.AddExamples(
            status,
            "fleet rollout status r-3kq9t2mzpa",
            "fleet rollout status r-3kq9t2mzpa --watch",
            "fleet rollout status r-3kq9t2mzpa --watch --timeout 1h -o json | jq -r .state");
        return status;
    }

    /// <summary>Follows the rollout to its end; live table on a terminal, plain lines otherwise, one object with -o json.</summary>
    private static async Task<int> FollowAsync(
        CommandContext context, FleetConnection connection, Rollout initial, TimeSpan? timeout, OutputFormat format, CancellationToken ct)
    {
        var host = context.Host;
        var renderer = context.Renderer;
        var watcher = new RolloutWatcher(connection, host);
        using var timeoutSource = timeout is { } limit ? new CancellationTokenSource(limit, host.Time) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeoutSource.Token);
        Rollout final;
        try
        {
            if (format == OutputFormat.Json)
            {
                final = await watcher.WatchAsync(initial.Id, _ => Task.CompletedTask, linked.Token);
                renderer.Json(RolloutView.ToJson(final), OutputJsonContext.Default.RolloutJson);
            }
            else if (host.OutputIsTerminal)
            {
                final = await renderer.LiveAsync(initial, update => watcher.WatchAsync(
                    initial.Id,
                    rollout =>
                    {
                        update(rollout);
                        return Task.CompletedTask;
                    },
                    linked.Token));
            }
            else
            {
                var shown = initial;
                foreach (var line in RolloutView.Changes(null, initial))
                {
                    renderer.Line(line);
                }

                final = await watcher.WatchAsync(
                    initial.Id,
                    rollout =>
                    {
                        foreach (var line in RolloutView.Changes(shown, rollout))
                        {
                            renderer.Line(line);
                        }

                        shown = rollout;
                        return Task.CompletedTask;
                    },
                    linked.Token);
            }
        }
        catch (OperationCanceledException) when (timeoutSource.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            var last = watcher.Last ?? initial;
            if (format == OutputFormat.Json)
            {
                renderer.Json(RolloutView.ToJson(last), OutputJsonContext.Default.RolloutJson);
            }

            throw new CliException(
                ExitCodes.Timeout,
                $"rollout {last.Id} is still {RolloutView.State(last.State)} after {DurationParser.Format(timeout!.Value)}; "
                + $"it carries on without this command; follow it with: fleet rollout status {last.Id} --watch");
        }

        if (final.State == RolloutState.Failed)
        {
            var reason = final.Message.Length > 0 ? final.Message : "see the hosts' messages";
            await host.Err.WriteLineAsync($"error: rollout {final.Id} failed: {reason}");
        }

        return RolloutView.ExitCode(final);
    }

    private static void Print(CommandContext context, Rollout rollout, OutputFormat format)
    {
        if (format == OutputFormat.Json)
        {
            context.Renderer.Json(RolloutView.ToJson(rollout), OutputJsonContext.Default.RolloutJson);
        }
        else
        {
            context.Renderer.Rollout(rollout);
        }
    }
}
