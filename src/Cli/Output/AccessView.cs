using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>Tokens, roles and audit entries as tables and JSON.</summary>
internal static class AccessView
{
    public static string RoleName(Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Operator => "operator",
        Role.Admin => "admin",
        _ => "-",
    };

    public static string State(EnrollmentToken t, DateTimeOffset now) =>
        t.RevokedAt is not null ? "revoked"
        : t.UsedAt is not null ? "used"
        : t.ExpiresAt is not null && t.ExpiresAt.ToDateTimeOffset() <= now ? "expired"
        : "pending";

    public static string State(ApiToken t, DateTimeOffset now) =>
        t.RevokedAt is not null ? "revoked"
        : t.ExpiresAt is not null && t.ExpiresAt.ToDateTimeOffset() <= now ? "expired"
        : "active";

    public static string LabelText(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var text = string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));
        return text.Length == 0 ? "-" : text;
    }

    public static EnrollmentTokenJson ToJson(EnrollmentToken t, DateTimeOffset now) => new(
        t.Id,
        State(t, now),
        Formats.NullIfEmpty(t.HostName),
        new SortedDictionary<string, string>(t.Labels, StringComparer.Ordinal),
        Formats.Iso(t.CreatedAt),
        Formats.NullIfEmpty(t.CreatedBy),
        Formats.Iso(t.ExpiresAt),
        Formats.Iso(t.UsedAt),
        Formats.NullIfEmpty(t.UsedByHost),
        Formats.Iso(t.RevokedAt));

    public static IReadOnlyList<string> ToRow(EnrollmentToken t, DateTimeOffset now) =>
    [
        t.Id,
        State(t, now),
        t.HostName.Length == 0 ? "(any)" : t.HostName,
        LabelText(t.Labels),
        Formats.Iso(t.ExpiresAt) ?? "-",
        t.UsedByHost.Length == 0 ? "-" : t.UsedByHost,
        t.CreatedBy.Length == 0 ? "-" : t.CreatedBy,
    ];

    public static ApiTokenJson ToJson(ApiToken t, DateTimeOffset now) => new(
        t.Id,
        t.Name,
        RoleName(t.Role),
        State(t, now),
        Formats.Iso(t.CreatedAt),
        Formats.NullIfEmpty(t.CreatedBy),
        Formats.Iso(t.ExpiresAt),
        Formats.Iso(t.RevokedAt),
        Formats.Iso(t.LastUsedAt))
    {
        Token = Formats.NullIfEmpty(t.Token),
    };

    public static IReadOnlyList<string> ToRow(ApiToken t, DateTimeOffset now) =>
    [
        t.Id,
        t.Name,
        RoleName(t.Role),
        State(t, now),
        Formats.Iso(t.ExpiresAt) ?? "never",
        t.LastUsedAt is null ? "never" : Formats.Ago(t.LastUsedAt.ToDateTimeOffset(), now),
        t.CreatedBy.Length == 0 ? "-" : t.CreatedBy,
    ];

    public static AuditJson ToJson(AuditEntry e) =>
        new(e.Id, Formats.Iso(e.At), e.Actor, e.Role == Role.Unspecified ? "" : RoleName(e.Role), e.Action, e.Target, e.Result, e.Address, e.Detail);

    public static IReadOnlyList<string> ToRow(AuditEntry e) =>
    [
        Formats.Iso(e.At) ?? "-",
        e.Actor,
        RoleName(e.Role),
        e.Action,
        e.Target.Length == 0 ? "-" : e.Target,
        e.Result,
    ];
}
