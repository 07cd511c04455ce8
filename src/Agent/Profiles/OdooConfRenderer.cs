using System.Text;

namespace OdooFleet.Agent.Profiles;

/// <summary>
/// Renders /etc/odoo.conf. Only options Odoo 18 knows are ever written (SEED-ERRATA #2, #3):
/// stock Odoo silently ignores unknown keys, so a typo would look applied and do nothing.
/// </summary>
internal static class OdooConfRenderer
{
    /// <summary>Options of odoo/tools/config.py in Odoo 18 that the profile may write.</summary>
    public static readonly IReadOnlySet<string> KnownOptions = new HashSet<string>(StringComparer.Ordinal)
    {
        "addons_path", "admin_passwd", "csv_internal_sep", "data_dir", "db_host", "db_maxconn",
        "db_maxconn_gevent", "db_name", "db_password", "db_port", "db_replica_host", "db_replica_port",
        "db_sslmode", "db_template", "db_user", "dbfilter", "email_from", "from_filter", "gevent_port",
        "geoip_city_db", "geoip_country_db", "http_enable", "http_interface", "http_port", "import_partial",
        "limit_memory_hard", "limit_memory_hard_gevent", "limit_memory_soft", "limit_memory_soft_gevent",
        "limit_request", "limit_time_cpu", "limit_time_real", "limit_time_real_cron", "limit_time_worker_cron",
        "list_db", "log_db", "log_db_level", "log_handler", "log_level", "logfile", "max_cron_threads",
        "osv_memory_count_limit", "pg_path", "pidfile", "proxy_mode", "reportgz", "server_wide_modules",
        "smtp_password", "smtp_port", "smtp_server", "smtp_ssl", "smtp_ssl_certificate_filename",
        "smtp_ssl_private_key_filename", "smtp_user", "syslog", "transient_age_limit", "unaccent",
        "upgrade_path", "websocket_keep_alive_timeout", "websocket_rate_limit_burst",
        "websocket_rate_limit_delay", "without_demo", "workers", "x_sendfile",
    };

    public static string Render(Engine.OdooDesired odoo, OdooLayout layout)
    {
        // Order is fixed so the bytes (and thus drift detection) are stable.
        (string Key, string Value)[] options =
        [
            ("http_interface", "127.0.0.1"),
            ("http_port", odoo.HttpPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("gevent_port", odoo.GeventPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("proxy_mode", "True"),
            ("data_dir", layout.DataDir),
            ("logfile", layout.LogFile),
            ("list_db", "False"),
            ("without_demo", "all"),
            ("db_host", "False"),
            ("db_user", layout.User),
        ];

        var text = new StringBuilder();
        text.Append("; Managed by odoofleet-agent: local changes are put back on the next converge.\n");
        text.Append("[options]\n");
        foreach (var (key, value) in options)
        {
            if (!KnownOptions.Contains(key))
            {
                throw new InvalidOperationException($"odoo.conf: '{key}' is not an Odoo 18 option; the profile must not write it");
            }

            text.Append(key).Append(" = ").Append(value).Append('\n');
        }

        return text.ToString();
    }
}
