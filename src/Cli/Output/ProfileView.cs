using OdooFleet.Cli.Input;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>HostProfile (proto) → JSON object and `fleet host show` lines. Pure.</summary>
internal static class ProfileView
{
    public static string Tls(TlsMode tls) => tls == TlsMode.Acme ? "acme" : "self-signed";

    public static ProfileJson ToJson(HostProfile p) =>
        new(
            [.. p.Domains],
            Tls(p.Tls),
            Formats.NullIfEmpty(p.AcmeEmail),
            p.DatabaseManager ? "open" : "blocked",
            NullIfZero(p.Workers),
            NullIfZero(p.MaxCronThreads),
            new SortedDictionary<string, string>(p.OdooOptions, StringComparer.Ordinal),
            Formats.NullIfEmpty(p.LogLevel),
            p.Postgres is { } pg
                ? new PostgresJson("remote", pg.Host, NullIfZero(pg.Port), Formats.NullIfEmpty(pg.User), Formats.NullIfEmpty(pg.Sslmode))
                : new PostgresJson("local", null, null, null, null),
            NullIfZero(p.LoginMaxRetry),
            NullIfZero(p.LoginFindTimeSeconds),
            NullIfZero(p.LoginBanSeconds),
            !p.UnattendedUpgradesOff);

    /// <summary>Label/value lines; "auto" and "default" say who decides a value the profile leaves unset.</summary>
    public static IReadOnlyList<(string Label, string Value)> Details(HostProfile p)
    {
        var domains = p.Domains.Count == 0
            ? "- (the host name)"
            : string.Join(", ", p.Domains.Select((d, i) => i == 0 && p.Domains.Count > 1 ? $"{d} (primary)" : d));
        var tls = p.Tls == TlsMode.Acme
            ? $"acme, contact {(p.AcmeEmail.Length > 0 ? p.AcmeEmail : "the fleet default")}"
            : "self-signed";
        var options = p.OdooOptions.Count == 0
            ? "-"
            : string.Join(", ", p.OdooOptions.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}"));
        var postgres = p.Postgres is { } pg
            ? Formats.Invariant($"remote {pg.Host}:{(pg.Port == 0 ? 5432 : pg.Port)}, user {(pg.User.Length > 0 ? pg.User : "odoo")}, ")
                + $"sslmode {(pg.Sslmode.Length > 0 ? pg.Sslmode : "require")} (password: not stored by the controller yet)"
            : "local (installed and tuned by the agent)";
        return
        [
            ("domains", domains),
            ("tls", tls),
            ("database manager", p.DatabaseManager ? "open" : "blocked"),
            ("workers", Auto(p.Workers)),
            ("cron threads", Auto(p.MaxCronThreads)),
            ("log level", p.LogLevel.Length > 0 ? p.LogLevel : "default"),
            ("odoo options", options),
            ("postgresql", postgres),
            ("login ban", LoginBan(p)),
            ("unattended upgrades", p.UnattendedUpgradesOff ? "off" : "on (security updates)"),
        ];
    }

    private static string LoginBan(HostProfile p)
    {
        var retry = p.LoginMaxRetry > 0 ? Formats.Invariant($"{p.LoginMaxRetry}") : "default";
        var find = p.LoginFindTimeSeconds > 0 ? DurationParser.Format(TimeSpan.FromSeconds(p.LoginFindTimeSeconds)) : "default";
        var ban = p.LoginBanSeconds > 0 ? DurationParser.Format(TimeSpan.FromSeconds(p.LoginBanSeconds)) : "default";
        return $"after {retry} failed logins within {find}, for {ban}";
    }

    private static string Auto(int value) => value > 0 ? Formats.Invariant($"{value}") : "auto";

    private static int? NullIfZero(int value) => value == 0 ? null : value;
}
