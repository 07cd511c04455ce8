using System.Globalization;
using System.Net;
using System.Text;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Profiles;

/// <summary>How the Odoo login jail bans: thresholds, the firewall action and addresses never banned.</summary>
internal sealed record Fail2banSpec(string LogPath)
{
    /// <summary>
    /// Plain netfilter actions only. The ufw action is refused: the agent owns the ufw rule set and
    /// deletes rules nobody declared, bans included.
    /// </summary>
    public static readonly IReadOnlyList<string> BanActions = ["iptables-multiport", "nftables-multiport"];

    public int MaxRetry { get; init; } = 5;
    public TimeSpan FindTime { get; init; } = TimeSpan.FromMinutes(10);
    public TimeSpan BanTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>iptables-multiport by default: ufw depends on iptables, so it is always there; nft may not be.</summary>
    public string BanAction { get; init; } = "iptables-multiport";

    /// <summary>Addresses or CIDR networks never banned (an office, the monitoring host), besides loopback.</summary>
    public IReadOnlyList<string> IgnoreAddresses { get; init; } = [];

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsSafeAbsolutePath(LogPath))
        {
            errors.Add($"fail2ban.logpath: '{Grammar.Printable(LogPath)}' is not a safe absolute path (letters, digits, ._+@:/-); use Odoo's logfile");
        }

        if (MaxRetry is < 1 or > 100)
        {
            errors.Add($"fail2ban.maxretry: {MaxRetry} must be 1-100 failed logins (default 5); fix the jail settings");
        }

        CheckDuration("fail2ban.findtime", FindTime, TimeSpan.FromMinutes(1), TimeSpan.FromDays(7), "10m");
        CheckDuration("fail2ban.bantime", BanTime, TimeSpan.FromMinutes(1), TimeSpan.FromDays(365), "1h");
        if (!BanActions.Contains(BanAction))
        {
            errors.Add($"fail2ban.banaction: '{Grammar.Printable(BanAction)}' must be one of {string.Join(", ", BanActions)} "
                + "(not ufw: the agent owns the ufw rules and would delete the bans); fix the jail settings");
        }

        for (var i = 0; i < IgnoreAddresses.Count; i++)
        {
            var address = IgnoreAddresses[i];
            if (!IsAddressOrNetwork(address))
            {
                errors.Add($"fail2ban.ignore_addresses[{i}]: '{Grammar.Printable(address)}' is not an IP address or CIDR network (e.g. 198.51.100.7 or 2001:db8::/32); fix it");
            }
        }

        return errors;

        void CheckDuration(string field, TimeSpan value, TimeSpan min, TimeSpan max, string fallback)
        {
            if (value < min || value > max || value.Ticks % TimeSpan.TicksPerSecond != 0)
            {
                errors.Add($"{field}: {value} must be whole seconds between {Fail2banRenderer.FormatDuration(min)} and {Fail2banRenderer.FormatDuration(max)} (default {fallback}); fix the jail settings");
            }
        }
    }

    private static bool IsAddressOrNetwork(string value) =>
        value.Length <= 64 && value.All(c => char.IsAsciiHexDigit(c) || c is '.' or ':' or '/')
        && (value.Contains('/', StringComparison.Ordinal) ? IPNetwork.TryParse(value, out _) : IPAddress.TryParse(value, out _));
}

/// <summary>
/// Renders fail2ban's Odoo login filter and the fleet's jail file (SEED-ERRATA #4, #5): the filter
/// matches the line Odoo 18 really logs and takes the address as &lt;HOST&gt;; the jail reads Odoo's
/// logfile and fixes the packaged sshd jail for hosts without /var/log/auth.log.
/// </summary>
internal static class Fail2banRenderer
{
    public const string ConfigDirectory = "/etc/fail2ban";
    public const string FilterName = "odoo-login";
    public const string FilterRelativePath = $"filter.d/{FilterName}.conf";
    public const string FilterPath = $"{ConfigDirectory}/{FilterRelativePath}";
    public const string JailRelativePath = "jail.d/odoofleet.conf";
    public const string JailPath = $"{ConfigDirectory}/{JailRelativePath}";

    private const string Header = "# Managed by odoofleet-agent: local changes are put back on the next converge.\n";

    /// <summary>
    /// The filter. Odoo's log format is "%(asctime)s %(pid)s %(levelname)s %(dbname)s %(name)s:
    /// %(message)s %(perf_info)s" (perf_info is empty outside werkzeug lines, hence the trailing
    /// space); fail2ban cuts the date off before applying failregex.
    /// </summary>
    public static string RenderFilter() => Header + """
        # Odoo 18 logs a failed login (res_users._login) as
        #   2026-11-23 13:03:40,979 4242 INFO acme odoo.addons.base.models.res_users: Login failed for db:acme login:admin from 203.0.113.7
        # The address is REMOTE_ADDR: the client's only with proxy_mode = True behind nginx.
        # The login is chosen by the client, so the address is anchored at the end of the line: a
        # login such as "x from 192.0.2.1" cannot put someone else's address into a ban.

        [Definition]
        failregex = ^ \d+ INFO \S+ odoo\.addons\.base\.models\.res_users: Login failed for db:\S* login:.*? from <HOST>\s*$
        ignoreregex =
        datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S,%%f

        """;

    public static string RenderJail(Fail2banSpec spec)
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        var ignore = string.Join(' ', ["127.0.0.1/8", "::1", .. spec.IgnoreAddresses]);
        var text = new StringBuilder(Header);
        text.Append(CultureInfo.InvariantCulture, $"""
            # Bans use {spec.BanAction}, never the ufw action: the agent owns the ufw rule set and
            # deletes rules nobody declared, which would lift every ban.

            # Debian 12 and minimal Ubuntu hosts have no /var/log/auth.log, so the packaged sshd jail
            # stops fail2ban from starting ("Have not found any log file for sshd jail"): read sshd from
            # the journal instead (needs python3-systemd).
            [sshd]
            enabled = true
            backend = systemd
            banaction = {spec.BanAction}

            # Failed Odoo logins; backend is explicit so a distribution default of systemd cannot make
            # fail2ban ignore logpath.
            [{FilterName}]
            enabled = true
            filter = {FilterName}
            logpath = {spec.LogPath}
            backend = auto
            port = http,https
            maxretry = {spec.MaxRetry}
            findtime = {FormatDuration(spec.FindTime)}
            bantime = {FormatDuration(spec.BanTime)}
            banaction = {spec.BanAction}
            usedns = no
            ignoreip = {ignore}

            """);
        return text.ToString();
    }

    /// <summary>fail2ban's time abbreviations: "1h", "10m", "2d", or plain seconds.</summary>
    internal static string FormatDuration(TimeSpan value)
    {
        var seconds = (long)value.TotalSeconds;
        return seconds switch
        {
            _ when seconds % 86400 == 0 => $"{seconds / 86400}d",
            _ when seconds % 3600 == 0 => $"{seconds / 3600}h",
            _ when seconds % 60 == 0 => $"{seconds / 60}m",
            _ => seconds.ToString(CultureInfo.InvariantCulture),
        };
    }
}
