using System.Globalization;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Profiles;

/// <summary>Rotation of Odoo's log directory: who owns the logs and how many days are kept.</summary>
internal sealed record LogrotateSpec(string LogDirectory, string User, string Group)
{
    public int Rotate { get; init; } = 14;

    public static LogrotateSpec For(OdooLayout layout) => new(layout.LogDir, layout.User, layout.Group);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Grammar.IsSafeAbsolutePath(LogDirectory) || LogDirectory == "/")
        {
            errors.Add($"logrotate.log_dir: '{Grammar.Printable(LogDirectory)}' is not a safe absolute directory (letters, digits, ._+@:/-); use Odoo's log directory");
        }

        if (!Grammar.IsUnixName(User))
        {
            errors.Add($"logrotate.user: '{Grammar.Printable(User)}' is not a system user name; use the Odoo user");
        }

        if (!Grammar.IsUnixName(Group))
        {
            errors.Add($"logrotate.group: '{Grammar.Printable(Group)}' is not a system group name; use the Odoo group");
        }

        if (Rotate is < 1 or > 366)
        {
            errors.Add($"logrotate.rotate: {Rotate} must be 1-366 days of logs kept (default 14); fix the log settings");
        }

        return errors;
    }
}

/// <summary>Renders /etc/logrotate.d/odoo (SEED-ERRATA #13: Odoo 18 has no rotation of its own).</summary>
internal static class LogrotateRenderer
{
    public const string FilePath = "/etc/logrotate.d/odoo";

    public static string Render(LogrotateSpec spec)
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        var rotate = spec.Rotate.ToString(CultureInfo.InvariantCulture);
        return $$"""
            # Managed by odoofleet-agent: local changes are put back on the next converge.
            # Odoo 18 writes its logfile through logging.handlers.WatchedFileHandler on POSIX: every
            # process notices the renamed file and reopens the path, so "create" is right and no
            # signal is needed; copytruncate would lose the lines written between copy and truncate.
            # "su" because the directory belongs to {{spec.User}}: logrotate refuses to rotate in a
            # directory writable by a non-root user otherwise.
            {{spec.LogDirectory}}/*.log {
                daily
                rotate {{rotate}}
                compress
                delaycompress
                missingok
                notifempty
                create 0640 {{spec.User}} {{spec.Group}}
                su {{spec.User}} {{spec.Group}}
            }

            """;
    }
}
