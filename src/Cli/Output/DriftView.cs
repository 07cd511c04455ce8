using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>Drift records and drift policies as tables, details and JSON.</summary>
internal static class DriftView
{
    /// <summary>What `fleet drift show` takes: "&lt;host id&gt;/&lt;event id&gt;".</summary>
    public static string Id(DriftRecord r) => $"{r.HostId}/{r.Event.Id}";

    public static string Action(DriftAction action) => action switch
    {
        DriftAction.Corrected => "corrected",
        DriftAction.Reported => "reported",
        DriftAction.Suppressed => "suppressed",
        DriftAction.Flapping => "flapping",
        DriftAction.Failed => "failed",
        _ => "-",
    };

    public static string Mode(DriftMode mode) => mode switch
    {
        DriftMode.Report => "report",
        _ => "correct",
    };

    public static IReadOnlyList<string> ToRow(DriftRecord r) =>
    [
        Formats.Iso(r.Event.DetectedAt) ?? "-",
        r.HostName,
        PlanView.Printable(r.Event.ResourceId),
        Action(r.Event.Action),
        PlanView.Printable(r.Event.Trigger),
        r.Event.Recurred ? "yes" : "no",
        PlanView.Printable(Id(r)),
    ];

    public static DriftJson ToJson(DriftRecord r) => new(
        Id(r),
        r.HostId,
        r.HostName,
        r.Event.Id,
        r.Event.ResourceId,
        r.Event.Kind,
        r.Event.Generation,
        r.Event.Expected,
        r.Event.Actual,
        Formats.NullIfEmpty(r.Event.Diff),
        r.Event.Trigger,
        Formats.Iso(r.Event.DetectedAt),
        Action(r.Event.Action),
        Formats.Iso(r.Event.CorrectedAt),
        r.Event.Recurred,
        Formats.NullIfEmpty(r.Event.Error),
        Formats.Iso(r.ReceivedAt),
        [.. r.Event.Accept.Select(ToJson)],
        Formats.Iso(r.AcceptedAt),
        Formats.NullIfEmpty(r.AcceptedBy));

    public static SpecPatchJson ToJson(SpecPatch p) => new(p.Path, p.Value);

    /// <summary>"odoo.workers = 3, postgres.settings.work_mem = 64MB".</summary>
    public static string Patches(IEnumerable<SpecPatch> patches) =>
        string.Join(", ", patches.Select(p => $"{PlanView.Printable(p.Path)} = {PlanView.Printable(p.Value)}"));

    /// <summary>Label and value pairs for `fleet drift show`; the diff comes after them.</summary>
    public static IReadOnlyList<(string Label, string Value)> Details(DriftRecord r)
    {
        var e = r.Event;
        var details = new List<(string, string)>
        {
            ("Id", PlanView.Printable(Id(r))),
            ("Host", $"{r.HostName} ({r.HostId})"),
            ("Resource", $"{PlanView.Printable(e.ResourceId)} ({PlanView.Printable(e.Kind)})"),
            ("Action", Action(e.Action) + (e.Recurred ? " (recurred: drifted again within the flapping window)" : "")),
            ("Trigger", PlanView.Printable(e.Trigger)),
            ("Detected", Formats.Iso(e.DetectedAt) ?? "-"),
            ("Corrected", Formats.Iso(e.CorrectedAt) ?? "-"),
            ("Generation", Formats.Invariant($"{e.Generation}")),
            ("Expected", e.Expected.Length == 0 ? "-" : PlanView.Printable(e.Expected)),
            ("Actual", e.Actual.Length == 0 ? "-" : PlanView.Printable(e.Actual)),
            ("Received", Formats.Iso(r.ReceivedAt) ?? "-"),
        };
        if (e.Error.Length > 0)
        {
            details.Add(("Error", PlanView.Printable(e.Error)));
        }

        if (r.AcceptedAt is not null)
        {
            details.Add(("Accepted", $"{Formats.Iso(r.AcceptedAt)} by {PlanView.Printable(r.AcceptedBy)}: {Patches(e.Accept)}"));
        }
        else
        {
            details.Add(("Acceptable", e.Accept.Count == 0
                ? "no (not a value the host's spec holds; keep it with `fleet drift policy` report or ignore)"
                : $"{Patches(e.Accept)} (`fleet drift accept {PlanView.Printable(Id(r))}` makes it desired)"));
        }

        return details;
    }

    public static DriftPolicyJson ToJson(DriftPolicy? p)
    {
        p ??= new DriftPolicy();
        return new DriftPolicyJson(
            Mode(p.DefaultMode),
            new SortedDictionary<string, string>(p.Modes.ToDictionary(m => m.Key, m => Mode(m.Value)), StringComparer.Ordinal),
            [.. p.Maintenance.Select(w => new MaintenanceWindowJson(w.Days, w.Start, w.DurationMinutes))],
            [.. p.Ignore],
            p.PeriodicIntervalSeconds == 0 ? DefaultIntervalSeconds : p.PeriodicIntervalSeconds);
    }

    public const int DefaultIntervalSeconds = 300;

    /// <summary>The policy as lines; unset values say what the agent does instead.</summary>
    public static IReadOnlyList<(string Label, string Value)> PolicyDetails(DriftPolicy? p)
    {
        p ??= new DriftPolicy();
        var details = new List<(string, string)>
        {
            ("Default mode", Mode(p.DefaultMode) + (p.DefaultMode == DriftMode.Unspecified ? " (default)" : "")),
        };
        foreach (var (key, mode) in p.Modes.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            details.Add(("Mode", $"{PlanView.Printable(key)} = {Mode(mode)}"));
        }

        details.Add(("Maintenance", p.Maintenance.Count == 0
            ? "none"
            : string.Join(", ", p.Maintenance.Select(w => Formats.Invariant($"{w.Days} {w.Start} {Input.DurationParser.Format(TimeSpan.FromMinutes(w.DurationMinutes))} UTC")))));
        details.Add(("Ignored", p.Ignore.Count == 0 ? "none" : string.Join(", ", p.Ignore.Select(PlanView.Printable))));
        details.Add(("Re-observe every", p.PeriodicIntervalSeconds == 0
            ? "5m (default, jittered)"
            : Input.DurationParser.Format(TimeSpan.FromSeconds(p.PeriodicIntervalSeconds)) + " (jittered)"));
        return details;
    }
}
