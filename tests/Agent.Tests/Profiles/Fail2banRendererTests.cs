using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class Fail2banRendererTests
{
    private const string LogPath = "/var/log/odoo/odoo.log";

    [Fact]
    public void RenderJail_Defaults_ExactText()
    {
        const string Expected = """
            # Managed by odoofleet-agent: local changes are put back on the next converge.
            # Bans use iptables-multiport, never the ufw action: the agent owns the ufw rule set and
            # deletes rules nobody declared, which would lift every ban.

            # Debian 12 and minimal Ubuntu hosts have no /var/log/auth.log, so the packaged sshd jail
            # stops fail2ban from starting ("Have not found any log file for sshd jail"): read sshd from
            # the journal instead (needs python3-systemd).
            [sshd]
            enabled = true
            backend = systemd
            banaction = iptables-multiport

            # Failed Odoo logins; backend is explicit so a distribution default of systemd cannot make
            # fail2ban ignore logpath.
            [odoo-login]
            enabled = true
            filter = odoo-login
            logpath = /var/log/odoo/odoo.log
            backend = auto
            port = http,https
            maxretry = 5
            findtime = 10m
            bantime = 1h
            banaction = iptables-multiport
            usedns = no
            ignoreip = 127.0.0.1/8 ::1

            """;

        Assert.Equal(Expected, Fail2banRenderer.RenderJail(new Fail2banSpec(LogPath)));
    }

    [Theory]
    [InlineData(3, 300, 86400, "nftables-multiport", "maxretry = 3", "findtime = 5m", "bantime = 1d", "banaction = nftables-multiport")]
    [InlineData(10, 90, 5400, "iptables-multiport", "maxretry = 10", "findtime = 90", "bantime = 90m", "banaction = iptables-multiport")]
    public void RenderJail_Settings_Rendered(int maxRetry, int findSeconds, int banSeconds, string action, params string[] lines)
    {
        var text = Fail2banRenderer.RenderJail(new Fail2banSpec(LogPath)
        {
            MaxRetry = maxRetry,
            FindTime = TimeSpan.FromSeconds(findSeconds),
            BanTime = TimeSpan.FromSeconds(banSeconds),
            BanAction = action,
        });

        var rendered = text.Split('\n');
        Assert.All(lines, line => Assert.Contains(line, rendered));
        Assert.Equal(2, rendered.Count(l => l == $"banaction = {action}"));
    }

    [Fact]
    public void RenderJail_IgnoreAddresses_AppendedAfterLoopback()
    {
        var text = Fail2banRenderer.RenderJail(new Fail2banSpec(LogPath) { IgnoreAddresses = ["198.51.100.7", "2001:db8::/32"] });
        Assert.Contains("\nignoreip = 127.0.0.1/8 ::1 198.51.100.7 2001:db8::/32\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Twice_SameBytesEndingInNewline()
    {
        Assert.Equal(Fail2banRenderer.RenderFilter(), Fail2banRenderer.RenderFilter());
        Assert.Equal(Fail2banRenderer.RenderJail(new Fail2banSpec(LogPath)), Fail2banRenderer.RenderJail(new Fail2banSpec(LogPath)));
        Assert.EndsWith("\n", Fail2banRenderer.RenderFilter(), StringComparison.Ordinal);
        Assert.DoesNotContain("\r", Fail2banRenderer.RenderFilter(), StringComparison.Ordinal);
    }

    [Fact]
    public void RenderFilter_Definition_HostAnchoredAtEndAndOdooDatePattern()
    {
        var lines = Fail2banRenderer.RenderFilter().Split('\n');
        Assert.Contains(
            @"failregex = ^ \d+ INFO \S+ odoo\.addons\.base\.models\.res_users: Login failed for db:\S* login:.*? from <HOST>\s*$", lines);
        Assert.Contains("datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S,%%f", lines);
        Assert.Contains("[Definition]", lines);
    }

    [Theory]
    [InlineData(1, "1")]
    [InlineData(59, "59")]
    [InlineData(60, "1m")]
    [InlineData(600, "10m")]
    [InlineData(3600, "1h")]
    [InlineData(5400, "90m")]
    [InlineData(86400, "1d")]
    [InlineData(90000, "25h")]
    public void FormatDuration_Seconds_Abbreviation(int seconds, string expected) =>
        Assert.Equal(expected, Fail2banRenderer.FormatDuration(TimeSpan.FromSeconds(seconds)));

    [Theory]
    [InlineData("logpath", "fail2ban.logpath: 'var/log/odoo.log' is not a safe absolute path")]
    [InlineData("logpath-space", "fail2ban.logpath: '/var/log/odoo/odoo log' is not a safe absolute path")]
    [InlineData("maxretry", "fail2ban.maxretry: 0 must be 1-100")]
    [InlineData("bantime", "fail2ban.bantime: 00:00:30 must be whole seconds between 1m and 365d")]
    [InlineData("findtime", "fail2ban.findtime: 00:10:00.5000000 must be whole seconds")]
    [InlineData("banaction", "fail2ban.banaction: 'ufw' must be one of iptables-multiport, nftables-multiport (not ufw")]
    [InlineData("ignore", "fail2ban.ignore_addresses[1]: 'office.example.com' is not an IP address or CIDR network")]
    [InlineData("ignore-cidr", "fail2ban.ignore_addresses[0]: '10.0.0.0/99' is not an IP address or CIDR network")]
    public void RenderJail_BadSpec_ThrowsNamingTheField(string field, string expected)
    {
        var good = new Fail2banSpec(LogPath);
        var spec = field switch
        {
            "logpath" => good with { LogPath = "var/log/odoo.log" },
            "logpath-space" => good with { LogPath = "/var/log/odoo/odoo log" },
            "maxretry" => good with { MaxRetry = 0 },
            "bantime" => good with { BanTime = TimeSpan.FromSeconds(30) },
            "findtime" => good with { FindTime = TimeSpan.FromSeconds(600.5) },
            "banaction" => good with { BanAction = "ufw" },
            "ignore" => good with { IgnoreAddresses = ["10.0.0.1", "office.example.com"] },
            _ => good with { IgnoreAddresses = ["10.0.0.0/99"] },
        };

        var e = Assert.Throws<SpecValidationException>(() => Fail2banRenderer.RenderJail(spec));
        Assert.Contains(e.Errors, error => error.StartsWith(expected, StringComparison.Ordinal));
    }
}
