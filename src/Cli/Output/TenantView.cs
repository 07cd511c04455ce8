using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>How tenants and placements look in tables, details and `-o json`.</summary>
internal static class TenantView
{
    public static string State(TenantState state) => state switch
    {
        TenantState.Creating => "creating",
        TenantState.Active => "active",
        TenantState.Suspended => "suspended",
        TenantState.Deleting => "deleting",
        _ => "unknown",
    };

    public static TenantJson ToJson(Tenant t) => new(
        t.Id, t.Name, t.HostId, t.HostName, t.Plan, State(t.State), t.Database, t.PrimaryDomain, [.. t.Aliases], [.. t.Modules], t.Url,
        t.DatabaseBytes < 0 ? null : t.DatabaseBytes, t.FilestoreBytes < 0 ? null : t.FilestoreBytes,
        Formats.Iso(t.LastBackupAt), Formats.Iso(t.CreatedAt), Formats.Iso(t.UpdatedAt))
    {
        PendingState = t.PendingState == TenantState.Unspecified ? null : State(t.PendingState),
        SizesMeasuredAt = Formats.Iso(t.SizesMeasuredAt),
        Lang = t.Lang.Length == 0 ? null : t.Lang,
        Country = t.Country.Length == 0 ? null : t.Country,
        CloneOf = t.CloneOf.Length == 0 ? null : t.CloneOf,
        Neutralized = t.Neutralized,
        LastMove = t.Move is { } m
            ? new TenantLastMoveJson(m.Id, m.FromHostName, m.ToHostName, MoveStepName(m.Step), m.Error, m.ArchiveBytes, m.ArchiveSha256, Formats.Iso(m.UpdatedAt))
            : null,
    };

    /// <summary>"12.3 MiB (measured 4m ago)", or "not reported yet" before the tenant's host measured it.</summary>
    public static string Size(long bytes, Google.Protobuf.WellKnownTypes.Timestamp? measuredAt, DateTimeOffset now) =>
        bytes < 0 ? "not reported yet"
        : measuredAt is null ? Formats.Bytes(bytes)
        : $"{Formats.Bytes(bytes)} (measured {Formats.Ago(measuredAt.ToDateTimeOffset(), now)})";

    /// <summary>"no (created)", or the source and whether the copy was neutralized.</summary>
    public static string Clone(Tenant t) => t.CloneOf.Length == 0
        ? "no (created)"
        : t.Neutralized
            ? $"of {t.CloneOf}, neutralized (outgoing mail, crons and payment providers disabled)"
            : $"of {t.CloneOf}, NOT neutralized (sends mail and runs crons like the source)";

    /// <summary>"active", or "active -> suspended (waits for its host to converge)" while a change is on its way.</summary>
    public static string StateWithPending(Tenant t) => t.PendingState == TenantState.Unspecified
        ? State(t.State)
        : $"{State(t.State)} -> {State(t.PendingState)} (waits for its host to converge)";

    public static PlacementJson ToJson(PlacementVerdict v) => new(v.HostId, v.HostName, v.Fits, Math.Round(v.Headroom, 4), [.. v.Reasons]);

    public static IReadOnlyList<string> ToRow(Tenant t) =>
        [t.Name, t.HostName.Length > 0 ? t.HostName : t.HostId, State(t.State), t.Plan, t.PrimaryDomain, Formats.Iso(t.CreatedAt) ?? ""];

    public static IReadOnlyList<string> ToRow(PlacementVerdict v) =>
        [v.HostName, v.Fits ? "yes" : "no", v.Fits ? Formats.Invariant($"{v.Headroom * 100:0.#} %") : "-", string.Join("; ", v.Reasons)];

    public static IReadOnlyList<(string Label, string Value)> Details(Tenant t, DateTimeOffset now) =>
    [
        ("name", t.Name),
        ("id", t.Id),
        ("state", StateWithPending(t)),
        ("host", $"{t.HostName} ({t.HostId})"),
        ("plan", t.Plan),
        ("url", t.Url),
        ("domains", string.Join(", ", [t.PrimaryDomain, .. t.Aliases.Select(a => $"{a} (redirects)")])),
        ("database", t.Database),
        ("modules", string.Join(", ", t.Modules)),
        ("language", t.Lang.Length == 0 ? "en_US (Odoo's default)" : t.Lang),
        ("country", t.Country.Length == 0 ? "not set" : t.Country),
        ("clone", Clone(t)),
        ("database size", Size(t.DatabaseBytes, t.SizesMeasuredAt, now)),
        ("filestore size", Size(t.FilestoreBytes, t.SizesMeasuredAt, now)),
        ("last backup", t.LastBackupAt is null ? "none yet" : $"{Formats.Iso(t.LastBackupAt)} ({Formats.Ago(t.LastBackupAt.ToDateTimeOffset(), now)})"),
        ("created", Formats.Iso(t.CreatedAt) ?? ""),
        ("updated", Formats.Iso(t.UpdatedAt) ?? ""),
        ("last move", t.Move is null ? "never moved" : Move(t.Move)),
    ];

    /// <summary>"m-… from th1 to th2: importing (since …)", with the reason of a rollback.</summary>
    public static string Move(TenantMove m) =>
        $"{m.Id} from {m.FromHostName} to {m.ToHostName}: {MoveStep(m.Step)} (updated {Formats.Iso(m.UpdatedAt)})"
        + (m.Error.Length > 0 ? $"; {m.Error}" : "");

    /// <summary>The step's name in `-o json`.</summary>
    public static string MoveStepName(TenantMoveStep step) => step switch
    {
        TenantMoveStep.Exporting => "exporting",
        TenantMoveStep.Importing => "importing",
        TenantMoveStep.Switched => "switched",
        TenantMoveStep.Done => "done",
        TenantMoveStep.RollingBack => "rolling-back",
        TenantMoveStep.RolledBack => "rolled-back",
        _ => "unknown",
    };

    public static string MoveStep(TenantMoveStep step) => step switch
    {
        TenantMoveStep.Exporting => "exporting (source serves a maintenance page)",
        TenantMoveStep.Importing => "importing on the target",
        TenantMoveStep.Switched => "switched (source removes its copy)",
        TenantMoveStep.Done => "done",
        TenantMoveStep.RollingBack => "rolling back",
        TenantMoveStep.RolledBack => "rolled back",
        _ => "unknown",
    };
}
