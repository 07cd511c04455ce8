using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Commands;

/// <summary>
/// `fleet drift`: what changed on hosts behind the fleet's back and what their agents did about it;
/// `fleet drift show` for one record in full; `fleet drift policy` for a host's policy (admin).
/// </summary>
internal static class DriftCommand
{
    private const int MaxLimit = 10_000;
    private const string Default = "default";

    public static Command Create(CommandContext context)
    {
        var host = new Option<string?>("--host") { Description = "Only this host (id or name)", HelpName = "host" };
        var since = SinceOption();
        var open = new Option<bool>("--open") { Description = "Only open drift: the newest record of its resource is not corrected (no time bound unless --since)" };
        var limit = new Option<int?>("--limit")
        {
            Description = "At most this many records, the newest (1-10000) [default: 1000]",
            HelpName = "N",
            CustomParser = result =>
            {
                var text = Token(result);
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= MaxLimit)
                {
                    return n;
                }

                result.AddError($"--limit: '{Printable(text)}' is not a number from 1 to {MaxLimit} (e.g. --limit 100)");
                return null;
            },
        };
        var output = CommandContext.OutputOption();
        var drift = new Command("drift", "Drift on hosts: what changed behind the fleet's back, and whether the agent put it back or only reported it")
        {
            host, since, open, limit, output, CreateShow(context), CreateAccept(context), CreatePolicy(context),
        };
        drift.SetAction(async (parse, ct) =>
        {
            var request = new ListDriftRequest { Host = parse.GetValue(host) ?? "", OpenOnly = parse.GetValue(open), Limit = parse.GetValue(limit) ?? 0 };
            if (parse.GetValue(since) is { } from)
            {
                request.Since = Timestamp.FromDateTimeOffset(from(context.Host.Time.GetUtcNow()));
            }

            using var connection = context.Connect(parse);
            var response = await connection.CallAsync((client, options) => client.ListDriftAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json<IReadOnlyList<DriftJson>>([.. response.Records.Select(DriftView.ToJson)], OutputJsonContext.Default.IReadOnlyListDriftJson);
                return ExitCodes.Ok;
            }

            if (response.Records.Count == 0)
            {
                context.Renderer.Line(request.OpenOnly
                    ? "no open drift: every drifted resource was put back"
                    : "no drift in that window (widen it with --since 7d, or see what is still open with --open)");
                return ExitCodes.Ok;
            }

            context.Renderer.Table(["TIME", "HOST", "RESOURCE", "ACTION", "TRIGGER", "RECURRED", "ID"], response.Records.Select(DriftView.ToRow));
            return ExitCodes.Ok;
        });
        context.AddExamples(
            drift,
            "fleet drift                                   # the last 24 hours, oldest first",
            "fleet drift --host web-01 --since 7d",
            "fleet drift --open                            # drift still in place (reported, suppressed, flapping, failed)",
            "fleet drift show h-3kq9t2mzpa/01hzx3k9a2      # expected, actual and the diff of one record",
            "fleet drift accept web-01 01hzx3k9a2          # make what was observed the host's desired value",
            "fleet drift policy web-01 --mode report --resource kind:ufw=correct",
            "fleet drift --since 2026-11-23T00:00:00Z -o json | jq -r '.[] | select(.action == \"flapping\") | .id'",
            "",
            "ACTION: corrected (put back), reported (policy report: left as found), suppressed (inside a",
            "maintenance window), flapping (keeps coming back: correction backs off), failed (see the error).",
            "RECURRED: the resource drifted before within the flapping window. Expected and actual values and",
            "diffs come redacted from the agent (secrets never leave the host).");
        return drift;
    }

    private static Command CreateShow(CommandContext context)
    {
        var id = new Argument<string>("id") { Description = "The record's id as `fleet drift` prints it (HOST_ID/EVENT_ID), or a host id or name followed by EVENT_ID" };
        var eventId = new Argument<string?>("event-id") { Description = "The agent's event id, when the first argument is only the host", Arity = ArgumentArity.ZeroOrOne };
        var output = CommandContext.OutputOption();
        var show = new Command("show", "One drift record in full: expected and actual values and the diff") { id, eventId, output };
        show.SetAction(async (parse, ct) =>
        {
            var first = parse.GetValue(id) ?? "";
            var request = parse.GetValue(eventId) is { Length: > 0 } second
                ? new GetDriftRequest { Host = first, Id = second }
                : Split(first);
            using var connection = context.Connect(parse);
            var record = await connection.CallAsync((client, options) => client.GetDriftAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(DriftView.ToJson(record), OutputJsonContext.Default.DriftJson);
                return ExitCodes.Ok;
            }

            var details = DriftView.Details(record);
            var width = details.Max(d => d.Label.Length) + 1;
            foreach (var (label, value) in details)
            {
                context.Renderer.Line($"{(label + ":").PadRight(width)} {value}");
            }

            if (record.Event.Diff.Length > 0)
            {
                context.Renderer.Line("");
                context.Renderer.Line(PlanView.Printable(record.Event.Diff).TrimEnd('\n'));
            }

            return ExitCodes.Ok;
        });
        context.AddExamples(
            show,
            "fleet drift show h-3kq9t2mzpa/01hzx3k9a2",
            "fleet drift show web-01 01hzx3k9a2",
            "fleet drift show h-3kq9t2mzpa/01hzx3k9a2 -o json | jq -r .diff",
            "",
            "Exit codes: 0 shown, 2 malformed id, 5 no such host or record (or not allowed).");
        return show;
    }

    private static Command CreateAccept(CommandContext context)
    {
        var id = new Argument<string>("id") { Description = "The record's id as `fleet drift` prints it (HOST_ID/EVENT_ID), or a host id or name followed by EVENT_ID" };
        var eventId = new Argument<string?>("event-id") { Description = "The agent's event id, when the first argument is only the host", Arity = ArgumentArity.ZeroOrOne };
        var output = CommandContext.OutputOption();
        var accept = new Command("accept", "Make what a drift record observed the host's desired value: an audited spec change, checked like `fleet host configure`")
        {
            id, eventId, output,
        };
        accept.SetAction(async (parse, ct) =>
        {
            var first = parse.GetValue(id) ?? "";
            var target = parse.GetValue(eventId) is { Length: > 0 } second
                ? new GetDriftRequest { Host = first, Id = second }
                : Split(first);
            var request = new AcceptDriftRequest { Host = target.Host, Id = target.Id };
            using var connection = context.Connect(parse);
            // Idempotent on the controller: a second acceptance of the same record changes nothing.
            var response = await connection.CallAsync((client, options) => client.AcceptDriftAsync(request, options), idempotent: true, ct);
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new AcceptDriftJson($"{request.Host}/{request.Id}", request.Host, request.Id, response.Changed, response.Generation, [.. response.Applied.Select(DriftView.ToJson)]),
                    OutputJsonContext.Default.AcceptDriftJson);
                return ExitCodes.Ok;
            }

            var what = DriftView.Patches(response.Applied);
            context.Renderer.Line(response.Changed
                ? Formats.Invariant($"{Printable(request.Host)}: accepted {Printable(request.Id)}: {what}; desired generation is now {response.Generation} and the agent applies it")
                : Formats.Invariant($"{Printable(request.Host)}: {Printable(request.Id)} is accepted ({what}); the spec already says so, desired generation stays {response.Generation}"));
            return ExitCodes.Ok;
        });
        context.AddExamples(
            accept,
            "fleet drift accept h-3kq9t2mzpa/01hzx3k9a2",
            "fleet drift accept web-01 01hzx3k9a2 -o json",
            "",
            "Acceptable: a hand edit of odoo.conf's workers, max_cron_threads, log_level or an option the",
            "profile does not own, and changed PostgreSQL settings (`fleet drift show` says whether a record",
            "is). Not acceptable: a stopped service, a removed or re-moded file, secrets, profile-owned",
            "settings; keep those as they are with `fleet drift policy HOST --resource ID=report` or --ignore.",
            "Only the newest record of a resource can be accepted. Needs the admin role; audited.",
            "",
            "Exit codes: 0 accepted (or already), 1 not acceptable or against the profile's rules (the message",
            "says which and what to do), 2 malformed id, 5 no such host or record (or not allowed).");
        return accept;
    }

    private static GetDriftRequest Split(string id)
    {
        var slash = id.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == id.Length - 1)
        {
            throw CliException.Usage(
                $"'{Printable(id)}' is not a drift record id; pass it as `fleet drift` prints it (HOST_ID/EVENT_ID, e.g. h-3kq9t2mzpa/01hzx3k9a2) or as HOST EVENT_ID");
        }

        return new GetDriftRequest { Host = id[..slash], Id = id[(slash + 1)..] };
    }

    private static Command CreatePolicy(CommandContext context)
    {
        var idOrName = new Argument<string>("host") { Description = "Host id (like h-3kq9t2mzpa) or name" };
        var mode = new Option<string?>("--mode")
        {
            Description = "What the agent does with drift of resources no --resource names: correct (put back), report (leave as found), or default (correct)",
            HelpName = "correct|report|default",
            CustomParser = result => ParseMode(result, "--mode", Token(result), allowDefault: true),
        };
        var resource = new Option<string[]>("--resource")
        {
            Description = "The mode for one resource (file:/etc/odoo.conf) or a whole kind (kind:ufw), e.g. kind:ufw=report (repeat for several); the most specific wins",
            HelpName = "id=mode",
        };
        var unsetResource = new Option<string[]>("--unset-resource") { Description = "Remove a --resource entry (repeat for several)", HelpName = "id" };
        var maintenance = new Option<string[]>("--maintenance")
        {
            Description = "A weekly UTC window in which drift is recorded but not corrected: 'DAYS HH:MM DURATION' with DAYS * or mon..sun comma-separated (repeat for several; replaces the windows)",
            HelpName = "'days start duration'",
        };
        var noMaintenance = new Option<bool>("--no-maintenance") { Description = "Remove every maintenance window" };
        var ignore = new Option<string[]>("--ignore")
        {
            Description = "A resource id an operator owns: never watched, never reported (repeat for several; replaces the list)",
            HelpName = "id",
        };
        var noIgnore = new Option<bool>("--no-ignore") { Description = "Ignore nothing" };
        var interval = new Option<int?>("--interval")
        {
            Description = "How often the agent re-observes everything (30s-1d, jittered), or default (5m)",
            HelpName = "duration|default",
            CustomParser = result =>
            {
                var text = Token(result);
                if (text == Default)
                {
                    return 0;
                }

                if (DurationParser.TryParse(text, "--interval", out var duration, out var error))
                {
                    return (int)duration.TotalSeconds;
                }

                result.AddError(error + " or 'default'");
                return null;
            },
        };
        var output = CommandContext.OutputOption();
        var policy = new Command("policy", "Show or change a host's drift policy: correct or report, per resource or kind, maintenance windows, ignored resources")
        {
            idOrName, mode, resource, unsetResource, maintenance, noMaintenance, ignore, noIgnore, interval, output,
        };
        policy.SetAction(async (parse, ct) =>
        {
            var request = new ConfigureHostRequest { Id = parse.GetValue(idOrName) ?? "" };
            if (parse.GetValue(mode) is { } defaultMode)
            {
                request.DriftDefaultMode = ModeOf(defaultMode);
            }

            foreach (var pair in parse.GetValue(resource) ?? [])
            {
                var equals = pair.LastIndexOf('=');
                if (equals <= 0)
                {
                    throw CliException.Usage($"--resource: '{Printable(pair)}' is not ID=MODE (e.g. --resource file:/etc/odoo.conf=report)");
                }

                var key = pair[..equals];
                var value = pair[(equals + 1)..];
                if (value is not ("correct" or "report"))
                {
                    throw CliException.Usage($"--resource: '{Printable(value)}' in '{Printable(pair)}' is not a mode; use correct or report (remove an entry with --unset-resource {Printable(key)})");
                }

                if (!request.SetDriftModes.TryAdd(key, ModeOf(value)))
                {
                    throw CliException.Usage($"--resource: '{Printable(key)}' is given more than once; pass each resource once");
                }
            }

            request.UnsetDriftModes.AddRange((parse.GetValue(unsetResource) ?? []).Distinct(StringComparer.Ordinal));
            var windows = parse.GetValue(maintenance) ?? [];
            if (windows.Length > 0 && parse.GetValue(noMaintenance))
            {
                throw CliException.Usage("--maintenance and --no-maintenance contradict each other; pass the windows to keep, or --no-maintenance alone");
            }

            if (windows.Length > 0 || parse.GetValue(noMaintenance))
            {
                request.DriftMaintenance = new MaintenanceWindowList { Windows = { windows.Select(ParseWindow) } };
            }

            var ignored = parse.GetValue(ignore) ?? [];
            if (ignored.Length > 0 && parse.GetValue(noIgnore))
            {
                throw CliException.Usage("--ignore and --no-ignore contradict each other; pass the resources to ignore, or --no-ignore alone");
            }

            if (ignored.Length > 0 || parse.GetValue(noIgnore))
            {
                request.DriftIgnore = new StringList { Values = { ignored } };
            }

            if (parse.GetValue(interval) is { } seconds)
            {
                request.DriftPeriodicIntervalSeconds = seconds;
            }

            using var connection = context.Connect(parse);
            Host updated;
            bool? changed = null;
            if (IsEmpty(request))
            {
                // Nothing to change: show the policy (a viewer may read it).
                updated = await connection.CallAsync((client, options) => client.GetHostAsync(new GetHostRequest { Id = request.Id }, options), idempotent: true, ct);
            }
            else
            {
                var response = await connection.CallAsync((client, options) => client.ConfigureHostAsync(request, options), idempotent: true, ct);
                updated = response.Host;
                changed = response.Changed;
            }

            var drift = updated.Profile?.Drift;
            if ((parse.GetValue(output) ?? OutputFormat.Table) == OutputFormat.Json)
            {
                context.Renderer.Json(
                    new DriftPolicyResultJson(updated.Id, updated.Name, changed ?? false, updated.DesiredGeneration, DriftView.ToJson(drift)),
                    OutputJsonContext.Default.DriftPolicyResultJson);
                return ExitCodes.Ok;
            }

            if (changed is { } didChange)
            {
                context.Renderer.Line(didChange
                    ? Formats.Invariant($"{updated.Name}: drift policy changed; desired generation is now {updated.DesiredGeneration} and the agent applies it")
                    : Formats.Invariant($"{updated.Name}: the drift policy is already so; nothing changed (desired generation stays {updated.DesiredGeneration})"));
            }

            context.Renderer.HostDetails([.. DriftView.PolicyDetails(drift).Select(d => ("Drift policy", d.Label, d.Value))]);
            return ExitCodes.Ok;
        });
        context.AddExamples(
            policy,
            "fleet drift policy web-01                                   # show it",
            "fleet drift policy web-01 --mode report --resource kind:ufw=correct --resource file:/etc/odoo.conf=correct",
            "fleet drift policy web-01 --maintenance 'sat,sun 02:00 2h' --maintenance '* 23:30 30m'",
            "fleet drift policy web-01 --ignore file:/etc/motd --interval 2m",
            "fleet drift policy web-01 --mode default --unset-resource kind:ufw --no-maintenance --no-ignore --interval default",
            "",
            "Modes: correct puts the desired state back at once; report records and leaves it. The most",
            "specific entry wins: a resource id, then kind:<kind>, then --mode. Inside a maintenance window",
            "(UTC) drift is recorded as suppressed and not corrected. The agent applies the policy even while",
            "the controller is unreachable. A change bumps the host's desired generation (admin role needed);",
            "showing it needs only viewer.");
        return policy;
    }

    /// <summary>'sat,sun 02:00 2h': days and start are checked by the controller (the only judge), the duration here.</summary>
    private static MaintenanceWindow ParseWindow(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        const string Example = "e.g. --maintenance 'sat,sun 02:00 2h'";
        if (parts.Length != 3)
        {
            throw CliException.Usage($"--maintenance: '{Printable(text)}' is not 'DAYS HH:MM DURATION' ({Example})");
        }

        if (!DurationParser.TryParse(parts[2], "--maintenance", out var duration, out var error))
        {
            throw CliException.Usage($"{error} ({Example})");
        }

        if (duration.Seconds != 0 || duration > TimeSpan.FromDays(1))
        {
            throw CliException.Usage($"--maintenance: '{Printable(parts[2])}' must be whole minutes, at most 24h ({Example})");
        }

        return new MaintenanceWindow { Days = parts[0], Start = parts[1], DurationMinutes = (int)duration.TotalMinutes };
    }

    private static string? ParseMode(ArgumentResult result, string name, string text, bool allowDefault)
    {
        if (text is "correct" or "report" || (allowDefault && text == Default))
        {
            return text;
        }

        result.AddError($"{name}: '{Printable(text)}' is not a drift mode; use correct, report{(allowDefault ? " or default" : "")}");
        return null;
    }

    private static DriftMode ModeOf(string text) => text switch
    {
        "correct" => DriftMode.Correct,
        "report" => DriftMode.Report,
        _ => DriftMode.Unspecified,
    };

    private static bool IsEmpty(ConfigureHostRequest r) =>
        !r.HasDriftDefaultMode && r.SetDriftModes.Count == 0 && r.UnsetDriftModes.Count == 0 && r.DriftMaintenance is null
        && r.DriftIgnore is null && !r.HasDriftPeriodicIntervalSeconds;

    /// <summary>Entries from this long ago (30m, 2d) or from this time (2026-11-23T12:00:00Z).</summary>
    private static Option<Func<DateTimeOffset, DateTimeOffset>?> SinceOption() => new("--since")
    {
        Description = "Records detected this long ago (30m, 2d) or since this time (2026-11-23T12:00:00Z) [default: 24h; with --open: all]",
        HelpName = "duration|time",
        CustomParser = result =>
        {
            var text = Token(result);
            if (text.Contains('-', StringComparison.Ordinal)
                && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            {
                return _ => time;
            }

            if (DurationParser.TryParse(text, "--since", out var duration, out var error))
            {
                return now => now - duration;
            }

            result.AddError($"{error}, or a time like 2026-11-23T12:00:00Z");
            return null;
        },
    };

    private static string Token(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[0].Value : "";

    private static string Printable(string value) =>
        new([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
