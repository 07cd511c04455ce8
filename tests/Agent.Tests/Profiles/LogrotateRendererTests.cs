using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class LogrotateRendererTests
{
    [Fact]
    public void Render_DefaultLayout_ExactText()
    {
        const string Expected = """
            # Managed by odoofleet-agent: local changes are put back on the next converge.
            # Odoo 18 writes its logfile through logging.handlers.WatchedFileHandler on POSIX: every
            # process notices the renamed file and reopens the path, so "create" is right and no
            # signal is needed; copytruncate would lose the lines written between copy and truncate.
            # "su" because the directory belongs to odoo: logrotate refuses to rotate in a
            # directory writable by a non-root user otherwise.
            /var/log/odoo/*.log {
                daily
                rotate 14
                compress
                delaycompress
                missingok
                notifempty
                create 0640 odoo odoo
                su odoo odoo
            }

            """;

        Assert.Equal(Expected, LogrotateRenderer.Render(LogrotateSpec.For(OdooLayout.Default)));
    }

    [Theory]
    [InlineData("/srv/odoo/log", "svc", "adm", 30, "/srv/odoo/log/*.log {", "    rotate 30", "    create 0640 svc adm", "    su svc adm")]
    [InlineData("/var/log/odoo", "odoo", "odoo", 1, "/var/log/odoo/*.log {", "    rotate 1", "    create 0640 odoo odoo", "    su odoo odoo")]
    public void Render_Spec_Lines(string directory, string user, string group, int rotate, params string[] lines)
    {
        var text = LogrotateRenderer.Render(new LogrotateSpec(directory, user, group) { Rotate = rotate });
        Assert.All(lines, line => Assert.Contains(line, text.Split('\n')));
        Assert.Equal(text, LogrotateRenderer.Render(new LogrotateSpec(directory, user, group) { Rotate = rotate }));
        Assert.EndsWith("}\n", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/var/log/odoo/*", "odoo", "odoo", 14, "logrotate.log_dir: '/var/log/odoo/*' is not a safe absolute directory")]
    [InlineData("/", "odoo", "odoo", 14, "logrotate.log_dir: '/' is not a safe absolute directory")]
    [InlineData("/var/log/odoo", "Odoo User", "odoo", 14, "logrotate.user: 'Odoo User' is not a system user name")]
    [InlineData("/var/log/odoo", "odoo", "odoo\n", 14, "logrotate.group: 'odoo?' is not a system group name")]
    [InlineData("/var/log/odoo", "odoo", "odoo", 0, "logrotate.rotate: 0 must be 1-366")]
    public void Render_BadSpec_ThrowsNamingTheField(string directory, string user, string group, int rotate, string expected)
    {
        var e = Assert.Throws<SpecValidationException>(() => LogrotateRenderer.Render(new LogrotateSpec(directory, user, group) { Rotate = rotate }));
        Assert.Contains(e.Errors, error => error.StartsWith(expected, StringComparison.Ordinal));
    }
}
