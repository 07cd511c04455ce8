using System.Text.RegularExpressions;

namespace OdooFleet.Controller.Domain;

/// <summary>What an API token may do; each role includes the ones below it.</summary>
internal enum AccessRole
{
    None = 0,
    Viewer = 1,
    Operator = 2,
    Admin = 3,
}

/// <summary>Who is calling: the bootstrap credential, an API token, or nobody known.</summary>
internal sealed record Caller(string Actor, AccessRole Role, string? TokenId, string? TokenName)
{
    public const string BootstrapActor = "bootstrap";
    public const string AnonymousActor = "anonymous";

    public static readonly Caller Bootstrap = new(BootstrapActor, AccessRole.Admin, null, null);
    public static readonly Caller Anonymous = new(AnonymousActor, AccessRole.None, null, null);

    public static Caller ForToken(string id, string name, AccessRole role) => new($"token:{name} ({id})", role, id, name);
}

internal static class AccessRoles
{
    /// <summary>The stored and audited spelling: "viewer", "operator", "admin"; "" for none.</summary>
    public static string ToText(this AccessRole role) => role switch
    {
        AccessRole.Viewer => "viewer",
        AccessRole.Operator => "operator",
        AccessRole.Admin => "admin",
        _ => "",
    };

    public static AccessRole Parse(string text) => text switch
    {
        "viewer" => AccessRole.Viewer,
        "operator" => AccessRole.Operator,
        "admin" => AccessRole.Admin,
        _ => AccessRole.None,
    };
}

/// <summary>An API token as stored: never the token itself, only its SHA-256.</summary>
internal sealed record ApiTokenRecord(
    string Id,
    string Name,
    AccessRole Role,
    DateTimeOffset CreatedAt,
    string CreatedBy,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt,
    DateTimeOffset? LastUsedAt)
{
    public bool IsActive(DateTimeOffset now) => RevokedAt is null && (ExpiresAt is not { } expires || expires > now);
}

/// <summary>An enrollment token as stored (without its hash).</summary>
internal sealed record EnrollmentTokenRecord(
    string Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    string? HostName,
    IReadOnlyDictionary<string, string> Labels,
    string CreatedBy,
    DateTimeOffset? UsedAt,
    string? UsedByHost,
    DateTimeOffset? RevokedAt);

/// <summary>
/// Host labels, Kubernetes-style: key = optional "prefix/" (a DNS subdomain) + name; value short and plain.
/// Patterns end in \z: $ would also match before a trailing newline.
/// </summary>
internal static partial class Labels
{
    public const int MaxCount = 32;

    public static IReadOnlyList<string> Validate(IReadOnlyDictionary<string, string> labels)
    {
        var errors = new List<string>();
        if (labels.Count > MaxCount)
        {
            errors.Add($"labels: {labels.Count} given, at most {MaxCount} are allowed");
        }

        foreach (var (key, value) in labels.OrderBy(l => l.Key, StringComparer.Ordinal))
        {
            if (!IsKey(key))
            {
                errors.Add($"label '{ProfileRules.Printable(key)}': the key must be lowercase letters, digits, '.', '_' or '-', "
                    + "start and end with a letter or digit, at most 63 characters, optionally after a DNS prefix and '/' (e.g. role=web, example.com/tier=gold)");
            }
            else if (!ValuePattern().IsMatch(value))
            {
                errors.Add($"label '{key}': the value '{ProfileRules.Printable(value)}' must be at most 63 letters, digits, '.', '_' or '-' (e.g. {key}=web)");
            }
        }

        return errors;
    }

    private static bool IsKey(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return NamePattern().IsMatch(key);
        }

        var prefix = key[..slash];
        return prefix.Length <= 253 && PrefixPattern().IsMatch(prefix) && NamePattern().IsMatch(key[(slash + 1)..]);
    }

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?\z")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\z")]
    private static partial Regex PrefixPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex ValuePattern();
}
