using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text.RegularExpressions;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>
/// `fleet rollout --version SERIES [policy options] [--dry-run] [--wait]` and its subcommands:
/// status, pause, resume, abort, rollback.
/// </summary>
internal static partial class RolloutCommand
{
    public static readonly TimeSpan DefaultWaitTimeout = TimeSpan.FromMinutes(30);

    public const int MaxCanary = RateParser.MaxHosts;

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
        var revision = new Option<string?>("--revision")
        {
            Description = "A commit on the series branch (7-40 hex digits) instead of its head",
            HelpName = "sha",
            CustomParser = result =>
            {
                var text = Token(result);
                if (Revision().IsMatch(text))
                {
                    return text.ToLowerInvariant();
                }

                result.AddError($"--revision: '{Printable(text)}' is not a commit id; it must be 7 to 40 hex digits (e.g. --revision 3f2a9c1d)");
                return null;
            },
        };
        var selector = new Option<string[]>("--selector")
        {
            Description = "Only hosts with this label (repeat: all must match), e.g. role=web [default: every host]",
            HelpName = "key=value",
        };
        var canary = CommandContext.CountOption(
            "--canary", "Update this many hosts first, as their own batch, before any other [default: 0, no canary]", 0, MaxCanary, "1");
        var batch = RateOption("--batch", "Hosts per batch after the canary: a count N or P% of the targets [default: 25%]", minimum: 1);
        var maxFailures = RateOption(
            "--max-failures", "Failed hosts the rollout tolerates: N or P% of the targets; one more stops it [default: 0, the first failure stops it]", minimum: 0);
        var healthTimeout = CommandContext.DurationOption(
            "--health-timeout", "Per host: the health gate must pass within this (90s, 5m, 1h30m) [default: 5m]");
        var minHealthy = CommandContext.DurationOption(
            "--min-healthy", "Per host: Odoo must stay healthy without a break this long to pass the gate [default: 10s]");
        var pauseAfterCanary = new Option<bool>("--pause-after-canary") { Description = "Pause after the canary batch until `fleet rollout resume ID` (needs --canary)" };
        var noBackup = new Option<bool>("--no-backup") { Description = "Skip the backup of every database before the switch: faster, but a failed update cannot restore the databases" };
        var offline = new Option<OfflinePolicy?>("--offline")
        {
            Description = "A host offline when its batch starts: skip it (reported, not a failure) or wait for it up to the health timeout [default: skip]",
            HelpName = "skip|wait",
            CustomParser = result =>
            {
                var text = Token(result);
                switch (text.ToUpperInvariant())
                {
                    case "SKIP":
                        return OfflinePolicy.Skip;
                    case "WAIT":
                        return OfflinePolicy.Wait;
                    default:
                        result.AddError($"--offline: '{Printable(text)}' is not an offline policy; use skip or wait (e.g. --offline wait)");
                        return null;
                }
            },
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the plan (batches, hosts, what each host's step does) and change nothing" };
        var wait = new Option<bool>("--wait") { Description = "Follow the rollout until it ends: exit 0 if it succeeded, 1 if it failed or was aborted, 3 on timeout" };
        var timeout = CommandContext.DurationOption("--timeout", "With --wait: stop waiting after this long (exit 3); the rollout itself carries on [default: 30m]");
        var output = CommandContext.OutputOption();

        var rollout = new Command("rollout", "Move hosts to a commit of an Odoo series: canary, batches, backup first, health gates, automatic revert")
        {
            version,
            revision,
            selector,
            canary,
            batch,
            maxFailures,
            healthTimeout,
            minHealthy,
            pauseAfterCanary,
            noBackup,
            offline,
            dryRun,
            wait,
            timeout,
            output,
            CreateStatus(context),
            RolloutActionCommands.Create(context, RolloutAction.Pause),
            RolloutActionCommands.Create(context, RolloutAction.Resume),
            RolloutActionCommands.Create(context, RolloutAction.Abort),
            RolloutActionCommands.CreateRollback(context),
        };
        rollout.SetAction(async (parse, ct) =>
        {
            var series = parse.GetValue(version)
                ?? throw CliException.Usage("--version is required to start a rollout (e.g. fleet rollout --version 18.0); to look at one: fleet rollout status ID");
            var waitTimeout = parse.GetValue(timeout);
            var waiting = parse.GetValue(wait);
            var dry = parse.GetValue(dryRun);
            if (waitTimeout is not null && !waiting)
            {
                throw CliException.Usage("--timeout only applies with --wait (e.g. fleet rollout --version 18.0 --wait --timeout 1h)");
            }

            if (dry && waiting)
            {
                throw CliException.Usage("--wait has nothing to follow with --dry-run, which starts nothing; drop one of them");
            }

            var request = new StartRolloutRequest
            {
                Series = series,
                Revision = parse.GetValue(revision) ?? "",
                Canary = parse.GetValue(canary) ?? 0,
                Batch = parse.GetValue(batch) ?? "",
                MaxFailures = parse.GetValue(maxFailures) ?? "",
                HealthTimeoutSeconds = Seconds(parse.GetValue(healthTimeout)),
                MinHealthySeconds = Seconds(parse.GetValue(minHealthy)),
                PauseAfterCanary = parse.GetValue(pauseAfterCanary),
                NoBackup = parse.GetValue(noBackup),
                DryRun = dry,
                Offline = parse.GetValue(offline) ?? OfflinePolicy.Unspecified,
            };
            foreach (var (key, value) in LabelParser.Parse(parse.GetValue(selector) ?? [], "--selector"))
            {
                request.Selector[key] = value;
            }

            ValidatePolicy(request);

            var format = parse.GetValue(output) ?? OutputFormat.Table;
            using var connection = context.Connect(parse);

            // A real start is not idempotent: failing over after it may have arrived could start the rollout twice.
            var started = await connection.CallAsync((client, options) => client.StartRolloutAsync(request, options), idempotent: dry, ct);
            if (dry)
            {
                if (format == OutputFormat.Json)
                {
                    context.Renderer.Json(RolloutView.ToJson(started), OutputJsonContext.Default.RolloutJson);
                }
                else
                {
                    context.Renderer.Lines(RolloutPlanView.Lines(started));
                }

                return ExitCodes.Ok;
            }

            if (!waiting)
            {
                PrintStarted(context, started, format, $"rollout {started.Id} started");
                return ExitCodes.Ok;
            }

            return await FollowAsync(context, connection, started, waitTimeout ?? DefaultWaitTimeout, format, ct);
        });
        context.AddExamples(
            rollout,
            "fleet rollout --version 18.0 --dry-run               # the plan: batches, hosts, each step; changes nothing",
            "fleet rollout --version 18.0                         # start, print the id, return",
            "fleet rollout --version 18.0 --wait                  # start and follow live until it ends",
            "fleet rollout --version 18.0 --revision 3f2a9c1d --selector role=web --canary 1 --pause-after-canary",
            "fleet rollout --version 18.0 --batch 10% --max-failures 2 --health-timeout 10m --min-healthy 1m --offline wait",
            "fleet rollout --version 18.0 --wait --timeout 2h -o json | jq -r .state",
            "fleet rollout status r-3kq9t2mzpa --watch",
            "fleet rollout pause r-3kq9t2mzpa                     # also: resume, abort, rollback",
            "",
            "Each host: preflight -> backup of every database (unless --no-backup) -> stage -> switch ->",
            "update the modules whose version changed -> restart -> health gate. A failure puts the host",
            "back (code, databases, restart) and counts against --max-failures.",
            "A rollout runs on the controllers, not in this command: interrupting --wait or hitting the",
            "timeout leaves it running; a controller restart while following just reconnects.");
        return rollout;
    }

    private static Command CreateStatus(CommandContext context)
    {
        var id = IdArgument();
        var watch = new Option<bool>("--watch") { Description = "Follow live until the rollout ends: exit 0 if it succeeded, 1 if it failed or was aborted, 3 on timeout" };
        var timeout = CommandContext.DurationOption("--timeout", "With --watch: stop watching after this long (exit 3) [default: no limit]");
        var output = CommandContext.OutputOption();
        var status = new Command("status", "Show a rollout: policy, per-batch progress, every host's state, phase and unavailability, and the log tail of reverted hosts")
        {
            id, watch, timeout, output,
        };
        status.SetAction(async (parse, ct) =>
        {
            var format = parse.GetValue(output) ?? OutputFormat.Table;
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
            "fleet rollout status r-3kq9t2mzpa --watch            # live view; plain lines when stdout is not a terminal",
            "fleet rollout status r-3kq9t2mzpa --watch --timeout 1h -o json | jq -r .state",
            "fleet rollout status r-3kq9t2mzpa -o json | jq -r '.hosts[] | select(.state == \"reverted\") | .logTail'",
            "",
            "Host states: pending, updating, succeeded, unchanged (already on the release), failed, reverted",
            "(failed and put back: old code, databases restored, healthy again), skipped (offline), cancelled",
            "(never started: the rollout was aborted or failed first). UNAVAILABLE is how long Odoo did not serve.");
        return status;
    }

    public static Argument<string> IdArgument() => new("id") { Description = "Rollout id, like r-3kq9t2mzpa (printed by fleet rollout; listed by fleet rollouts)" };

    /// <summary>Follows the rollout to its end; live view on a terminal, plain lines otherwise, one object with -o json.</summary>
    public static async Task<int> FollowAsync(
        CommandContext context, FleetConnection connection, Rollout initial, TimeSpan? timeout, OutputFormat format, CancellationToken ct)
    {
        var host = context.Host;
        var renderer = context.Renderer;
        var watcher = new RolloutWatcher(connection, host);
        using var timeoutSource = timeout is { } limit ? new CancellationTokenSource(limit, host.Time) : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeoutSource.Token);
        var lastState = initial.State;

        // Off the terminal the live view shows it; elsewhere say once how to get a paused rollout going.
        async Task HintIfPaused(Rollout rollout)
        {
            if (rollout.State == RolloutState.Paused && lastState != RolloutState.Paused && !(host.OutputIsTerminal && format == OutputFormat.Table))
            {
                await host.Err.WriteLineAsync($"fleet: rollout {rollout.Id} is paused; still waiting. Resume it with: fleet rollout resume {rollout.Id}");
            }

            lastState = rollout.State;
        }

        Rollout final;
        try
        {
            if (initial.State == RolloutState.Paused)
            {
                lastState = RolloutState.Unspecified;
                await HintIfPaused(initial);
            }

            if (format == OutputFormat.Json)
            {
                final = await watcher.WatchAsync(initial.Id, HintIfPaused, linked.Token);
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
                renderer.Lines(RolloutView.Changes(null, initial));
                final = await watcher.WatchAsync(
                    initial.Id,
                    async rollout =>
                    {
                        renderer.Lines(RolloutView.Changes(shown, rollout));
                        shown = rollout;
                        await HintIfPaused(rollout);
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

        if (final.State is RolloutState.Failed or RolloutState.Aborted)
        {
            var reason = final.Message.Length > 0 ? PlanView.Printable(final.Message) : "see the hosts' messages";
            var verb = final.State == RolloutState.Failed ? "failed" : "was aborted";
            await host.Err.WriteLineAsync($"error: rollout {final.Id} {verb}: {reason}");
        }

        return RolloutView.ExitCode(final);
    }

    /// <summary>The answer to a call that started a rollout (start or rollback), when not following it.</summary>
    public static void PrintStarted(CommandContext context, Rollout started, OutputFormat format, string what)
    {
        if (format == OutputFormat.Json)
        {
            context.Renderer.Json(RolloutView.ToJson(started), OutputJsonContext.Default.RolloutJson);
            return;
        }

        var batches = started.Batches.Count > 0 ? Formats.Invariant($" in {started.Batches.Count} batch(es)") : "";
        context.Renderer.Line(Formats.Invariant($"{what}: {Formats.ShortRelease(started.Release)} on {started.Hosts.Count} host(s){batches}"));
        context.Renderer.Line($"follow it with: fleet rollout status {started.Id} --watch");
    }

    public static void Print(CommandContext context, Rollout rollout, OutputFormat format)
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

    /// <summary>Rules across options, checked before anything is sent.</summary>
    internal static void ValidatePolicy(StartRolloutRequest request)
    {
        if (request.PauseAfterCanary && request.Canary == 0)
        {
            throw CliException.Usage("--pause-after-canary needs a canary batch to pause after; add --canary N (e.g. --canary 1 --pause-after-canary)");
        }

        var gate = request.HealthTimeoutSeconds > 0 ? TimeSpan.FromSeconds(request.HealthTimeoutSeconds) : RolloutView.DefaultHealthTimeout;
        var healthy = request.MinHealthySeconds > 0 ? TimeSpan.FromSeconds(request.MinHealthySeconds) : RolloutView.DefaultMinHealthy;
        if (healthy >= gate)
        {
            var which = request.HealthTimeoutSeconds > 0 ? "--health-timeout" : "the default --health-timeout";
            throw CliException.Usage(
                $"--min-healthy: {DurationParser.Format(healthy)} must be shorter than {which} ({DurationParser.Format(gate)}), or no host can pass the health gate; "
                + "lower --min-healthy or raise --health-timeout (e.g. --min-healthy 30s --health-timeout 5m)");
        }
    }

    private static int Seconds(TimeSpan? duration) => duration is { } d ? (int)d.TotalSeconds : 0;

    private static Option<string?> RateOption(string name, string description, int minimum) => new(name)
    {
        Description = description,
        HelpName = "N|P%",
        CustomParser = result =>
        {
            if (RateParser.TryParse(Token(result), name, minimum, out var normalized, out var error))
            {
                return normalized;
            }

            result.AddError(error);
            return null;
        },
    };

    private static string Token(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[0].Value : "";

    private static string Printable(string value) =>
        new([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);

    [GeneratedRegex("^[0-9a-fA-F]{7,40}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex Revision();
}
