using System.Globalization;
using System.Text;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Profiles;

/// <summary>
/// What one Odoo site in nginx serves: the primary domain (the only name Odoo sees), aliases that
/// redirect to it, the local Odoo ports and the TLS pair. Every value is checked by
/// <see cref="Validate"/> before it reaches the rendered file.
/// </summary>
internal sealed record NginxSiteSpec(
    string PrimaryDomain,
    IReadOnlyList<string> Aliases,
    int HttpPort,
    int GeventPort,
    string CertificatePath,
    string KeyPath,
    string AcmeWebroot)
{
    /// <summary>Let's Encrypt puts at most 100 names on one certificate, and every name here is on it.</summary>
    public const int MaxNames = 100;

    /// <summary>File name under sites-available and prefix of every nginx-global name (upstreams, map variable, zones).</summary>
    public string SiteName { get; init; } = "odoo";

    /// <summary>SEED-ERRATA #14: /web/database is blocked unless this is set (an explicit, audited choice).</summary>
    public bool DatabaseManagerOpen { get; init; }

    /// <summary>
    /// Accepts names without dots (the host's own name on a network without DNS). Off by default:
    /// a typo like "erpexamplecom" must not become a server_name silently.
    /// </summary>
    public bool AllowSingleLabelNames { get; init; }

    /// <summary>Also listen on [::]; off for hosts whose kernel has IPv6 disabled (nginx would not start).</summary>
    public bool ListenIPv6 { get; init; } = true;

    /// <summary>
    /// The host's own site owns what nginx allows once per http block: the static cache zone, the
    /// server-name hash bucket size (sized for <see cref="LongestOtherName"/> too). A tenant's site
    /// (false) proxies /web/static without a cache and shares one TLS session cache with the other
    /// tenants, so hundreds of sites do not each reserve their own shared memory.
    /// </summary>
    public bool OwnsHttpSettings { get; init; } = true;

    /// <summary>The longest server name of the other sites on the host (tenants), for the bucket size.</summary>
    public int LongestOtherName { get; init; }

    /// <summary>How many server names the other sites on the host have (tenants), for the hash's size.</summary>
    public int OtherNameCount { get; init; }

    /// <summary>The TLS session cache every tenant site shares (the same zone, size and module: nginx allows it).</summary>
    public const string TenantTlsSessionCache = "odoofleet_tenants_tls";

    /// <summary>Where the maintenance page of suspended sites lives (one static file for every site of the host).</summary>
    public const string DefaultMaintenanceRoot = "/var/www/odoofleet-maintenance";

    /// <summary>The maintenance page's file name under <see cref="MaintenanceRoot"/>, and its internal URI.</summary>
    public const string MaintenancePage = "odoofleet-maintenance.html";

    /// <summary>What a suspended site's 503 tells clients and crawlers: come back in an hour.</summary>
    public const int MaintenanceRetryAfterSeconds = 3600;

    /// <summary>
    /// A suspended tenant (fleet tenant suspend): the primary domain answers every request with the
    /// maintenance page, HTTP 503 with Retry-After; Odoo never sees it. Aliases and port 80 still
    /// redirect, and ACME challenges are still served, so the certificate keeps renewing.
    /// </summary>
    public bool Maintenance { get; init; }

    public string MaintenanceRoot { get; init; } = DefaultMaintenanceRoot;

    /// <summary>client_max_body_size: Odoo attachments and imports go through nginx.</summary>
    public int MaxUploadMegabytes { get; init; } = 100;

    public string LogDirectory { get; init; } = "/var/log/nginx";

    /// <summary>Parent of the static cache; must exist (nginx creates only the last level, <see cref="CachePath"/>).</summary>
    public string CacheDirectory { get; init; } = "/var/cache/nginx/odoofleet";

    public IReadOnlyList<string> AllNames => [PrimaryDomain, .. Aliases];

    public string AvailablePath => $"/etc/nginx/sites-available/{SiteName}";

    public string EnabledPath => $"/etc/nginx/sites-enabled/{SiteName}";

    public string CachePath => $"{CacheDirectory}/{SiteName}";

    public string AccessLogPath => $"{LogDirectory}/odoofleet-{SiteName}.access.log";

    public string ErrorLogPath => $"{LogDirectory}/odoofleet-{SiteName}.error.log";

    /// <summary>All problems, empty when the spec is valid. Messages name the field, the rule and the fix.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();

        // The site name becomes a file name and part of nginx variable, upstream and zone names,
        // where '-' or '.' would end the name: the lowercase identifier grammar fits all of them.
        if (!Grammar.IsSqlIdentifier(SiteName) || SiteName.Length > 32)
        {
            errors.Add($"nginx.site_name: '{Grammar.Printable(SiteName)}' must be a lowercase identifier (a-z, 0-9, _; at most 32, not starting with a digit); pick a name like \"odoo\"");
        }

        errors.AddRange(CheckName("nginx.primary_domain", PrimaryDomain));
        for (var i = 0; i < Aliases.Count; i++)
        {
            errors.AddRange(CheckName($"nginx.aliases[{i}]", Aliases[i]));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal) { PrimaryDomain };
        for (var i = 0; i < Aliases.Count; i++)
        {
            if (!seen.Add(Aliases[i]))
            {
                errors.Add($"nginx.aliases[{i}]: '{Grammar.Printable(Aliases[i])}' is already the primary domain or an earlier alias; list each name once");
            }
        }

        if (Aliases.Count + 1 > MaxNames)
        {
            errors.Add($"nginx.aliases: {Aliases.Count} aliases, but a certificate holds at most {MaxNames} names with the primary; split the site");
        }

        AddIfNotNull(errors, SpecValidator.CheckPort("nginx.http_port", HttpPort));
        AddIfNotNull(errors, SpecValidator.CheckPort("nginx.gevent_port", GeventPort));
        if (HttpPort == GeventPort)
        {
            errors.Add($"nginx.gevent_port: {GeventPort} equals nginx.http_port; Odoo serves /websocket on its own gevent port (default 8072)");
        }

        AddIfNotNull(errors, CheckPath("nginx.certificate_path", CertificatePath));
        AddIfNotNull(errors, CheckPath("nginx.key_path", KeyPath));
        AddIfNotNull(errors, CheckPath("nginx.acme_webroot", AcmeWebroot));
        AddIfNotNull(errors, CheckPath("nginx.log_directory", LogDirectory));
        AddIfNotNull(errors, CheckPath("nginx.cache_directory", CacheDirectory));
        AddIfNotNull(errors, CheckPath("nginx.maintenance_root", MaintenanceRoot));
        if (MaxUploadMegabytes is < 1 or > 10240)
        {
            errors.Add($"nginx.max_upload_megabytes: {MaxUploadMegabytes} is outside 1-10240; use e.g. 100");
        }

        return errors;
    }

    private IEnumerable<string> CheckName(string field, string value)
    {
        if (Grammar.IsDomain(value) || (AllowSingleLabelNames && Grammar.IsHostLabel(value)))
        {
            yield break;
        }

        var hint = !AllowSingleLabelNames && Grammar.IsHostLabel(value)
            ? "; a name without dots needs nginx.allow_single_label_names (hosts without DNS only)"
            : "";
        yield return $"{field}: '{Grammar.Printable(value)}' is not a lowercase DNS name (labels of a-z, 0-9 and inner '-', at least two labels, at most 253 characters){hint}; fix the site's domains";
    }

    private static string? CheckPath(string field, string value) =>
        Grammar.IsSafeAbsolutePath(value) && (value.Length == 1 || !value.EndsWith('/'))
            ? null
            : $"{field}: '{Grammar.Printable(value)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'; fix the path";

    private static void AddIfNotNull(List<string> errors, string? error)
    {
        if (error is not null)
        {
            errors.Add(error);
        }
    }
}

/// <summary>
/// Renders /etc/nginx/sites-available/&lt;site&gt; for an Odoo 18 host behind nginx (pure, byte-stable:
/// fixed order, "\n" line ends, trailing newline). Corrects the seed guide per SEED-ERRATA #1
/// (/websocket to the gevent port), #14 (database manager blocked) and #16 (a real cache zone).
/// </summary>
internal static class NginxSiteRenderer
{
    /// <summary>Names longer than this do not fit nginx's default server_names_hash bucket (64 bytes on x86-64).</summary>
    private const int LongestNameForDefaultBucket = 46;

    private const string Ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
        + "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

    public static string Render(NginxSiteSpec site)
    {
        var errors = site.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        var prefix = $"odoofleet_{site.SiteName}";
        // Tenant sites define one shared map variable (identical maps of one name are allowed: map
        // variables are changeable): one variable per site overflows nginx's variables hash.
        var upgrade = site.OwnsHttpSettings ? $"${prefix}_connection_upgrade" : "$odoofleet_tenants_connection_upgrade";
        var primary = site.PrimaryDomain;
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line("# Managed by odoofleet-agent: local changes are put back on the next converge.");
        Line($"# Odoo site \"{site.SiteName}\": https://{primary}/");
        Line();
        var longest = Math.Max(site.AllNames.Max(name => name.Length), site.LongestOtherName);
        if (site.OwnsHttpSettings && (longest > LongestNameForDefaultBucket || site.OtherNameCount > 0))
        {
            // nginx refuses to start when a server_name does not fit one hash bucket; with tenants'
            // hundreds of names, buckets that hold one name each leave nginx no collision-free hash
            // within the default sizes (it warns on every reload), so buckets hold several and the hash may grow.
            var bucket = Math.Max(BucketSizeFor(longest), site.OtherNameCount > 0 ? 128 : 0);
            Line($"server_names_hash_bucket_size {bucket.ToString(CultureInfo.InvariantCulture)};");
            if (site.OtherNameCount > 0)
            {
                Line($"server_names_hash_max_size {HashMaxSizeFor(site.AllNames.Count + site.OtherNameCount).ToString(CultureInfo.InvariantCulture)};");
            }

            Line();
        }

        Line($"map $http_upgrade {upgrade} {{");
        Line("    default upgrade;");
        Line("    ''      close;");
        Line("}");
        Line();
        Line($"upstream {prefix}_http {{");
        Line($"    server 127.0.0.1:{Port(site.HttpPort)};");
        Line("}");
        Line();
        Line($"upstream {prefix}_gevent {{");
        Line($"    server 127.0.0.1:{Port(site.GeventPort)};");
        Line("}");
        Line();
        if (site.OwnsHttpSettings)
        {
            Line("# proxy_cache_valid only works with a zone defined here and used by proxy_cache (SEED-ERRATA #16).");
            Line($"proxy_cache_path {site.CachePath} levels=1:2 keys_zone={prefix}_static:10m max_size=1g inactive=7d use_temp_path=off;");
            Line();
        }

        Line("server {");
        Listen(text, site, "80");
        Line($"    server_name {string.Join(' ', site.AllNames)};");
        Logs(text, site);
        Line();
        Line("    location ^~ /.well-known/acme-challenge/ {");
        Line($"        root {site.AcmeWebroot};");
        Line("        default_type text/plain;");
        Line("        try_files $uri =404;");
        Line("    }");
        Line();
        Line("    location / {");
        Line($"        return 301 https://{primary}$request_uri;");
        Line("    }");
        Line("}");
        Line();

        Line("server {");
        Listen(text, site, "443 ssl http2");
        Line($"    server_name {primary};");
        Logs(text, site);
        Tls(text, site);
        Line();
        if (site.Maintenance)
        {
            Maintenance(text, site);
            Aliases(text, site);
            return text.ToString();
        }

        Line($"    client_max_body_size {site.MaxUploadMegabytes.ToString(CultureInfo.InvariantCulture)}m;");
        Line("    proxy_connect_timeout 720s;");
        Line("    proxy_send_timeout 720s;");
        Line("    proxy_read_timeout 720s;");
        Line("    proxy_redirect off;");
        ProxyHeaders(text, primary, "    ");
        Line();
        Line("    gzip on;");
        Line("    gzip_vary on;");
        Line("    gzip_proxied any;");
        Line("    gzip_min_length 1024;");
        Line("    gzip_types text/css text/plain text/xml text/javascript application/javascript application/json application/xml image/svg+xml;");
        Line();
        Line("    # Odoo 16+ serves the bus over /websocket on the gevent port (SEED-ERRATA #1).");
        Line("    location /websocket {");
        Line($"        proxy_pass http://{prefix}_gevent;");
        Line("        proxy_http_version 1.1;");
        Line("        # A location with its own proxy_set_header inherits none, so the common ones are repeated.");
        ProxyHeaders(text, primary, "        ");
        Line("        proxy_set_header Upgrade $http_upgrade;");
        Line($"        proxy_set_header Connection {upgrade};");
        Line("        proxy_read_timeout 3600s;");
        Line("    }");
        Line();
        if (site.DatabaseManagerOpen)
        {
            Line("    # The database manager is open on purpose (nginx.database_manager_open).");
        }
        else
        {
            Line("    # Database manager blocked (SEED-ERRATA #14); odoo.conf also has list_db = False.");
            Line("    location ^~ /web/database {");
            Line("        return 403;");
            Line("    }");
        }

        Line();
        Line("    location /web/static/ {");
        Line($"        proxy_pass http://{prefix}_http;");
        if (site.OwnsHttpSettings)
        {
            Line($"        proxy_cache {prefix}_static;");
            Line("        proxy_cache_valid 200 60m;");
            Line("        proxy_cache_use_stale error timeout updating http_502 http_503 http_504;");
            Line("        proxy_cache_lock on;");
        }
        else
        {
            Line("        # No cache zone per tenant (SEED-ERRATA #16: a zone, or expires only).");
            Line("        expires 24h;");
        }

        Line("        proxy_buffering on;");
        Line("    }");
        Line();
        Line("    location / {");
        Line($"        proxy_pass http://{prefix}_http;");
        Line("    }");
        Line("}");
        Aliases(text, site);
        return text.ToString();
    }

    /// <summary>The static page a suspended site serves (no user input in it: byte-stable, nothing to escape).</summary>
    public static string RenderMaintenancePage() =>
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="robots" content="noindex">
        <title>Temporarily unavailable</title>
        <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:15vh auto;padding:0 1rem;color:#333}h1{font-size:1.5rem}</style>
        </head>
        <body>
        <h1>This site is temporarily unavailable</h1>
        <p>It is down for maintenance and will be back. Your data is kept. Please try again later.</p>
        </body>
        </html>

        """;

    // The rest of the primary server of a suspended site: every URI ends at the maintenance page with 503.
    private static void Maintenance(StringBuilder text, NginxSiteSpec site)
    {
        var retryAfter = NginxSiteSpec.MaintenanceRetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        text.Append('\n');
        text.Append("    # Suspended (fleet tenant suspend): a maintenance page instead of Odoo; its database and filestore are kept.\n");
        text.Append("    error_page 503 /").Append(NginxSiteSpec.MaintenancePage).Append(";\n");
        text.Append('\n');
        text.Append("    location = /").Append(NginxSiteSpec.MaintenancePage).Append(" {\n");
        text.Append("        root ").Append(site.MaintenanceRoot).Append(";\n");
        text.Append("        internal;\n");
        text.Append("        default_type text/html;\n");
        text.Append("        # A location with its own add_header inherits none, so HSTS is repeated.\n");
        text.Append("        add_header Retry-After ").Append(retryAfter).Append(" always;\n");
        text.Append("        add_header Cache-Control \"no-store\" always;\n");
        text.Append("        add_header Strict-Transport-Security \"max-age=31536000\" always;\n");
        text.Append("    }\n");
        text.Append('\n');
        text.Append("    location / {\n");
        text.Append("        return 503;\n");
        text.Append("    }\n");
        text.Append("}\n");
    }

    private static void Aliases(StringBuilder text, NginxSiteSpec site)
    {
        if (site.Aliases.Count == 0)
        {
            return;
        }

        text.Append("\nserver {\n");
        Listen(text, site, "443 ssl http2");
        text.Append("    server_name ").AppendJoin(' ', site.Aliases).Append(";\n");
        Logs(text, site);
        Tls(text, site);
        text.Append('\n');
        text.Append("    location / {\n");
        text.Append("        return 301 https://").Append(site.PrimaryDomain).Append("$request_uri;\n");
        text.Append("    }\n");
        text.Append("}\n");
    }

    /// <summary>
    /// What a wrapper config needs to validate a site without its own http settings alone: the
    /// bucket size for names as long as <paramref name="longest"/> (empty when the default holds them).
    /// </summary>
    public static string ValidationPreamble(int longest) =>
        longest > LongestNameForDefaultBucket
            ? $"server_names_hash_bucket_size {BucketSizeFor(longest).ToString(CultureInfo.InvariantCulture)};"
            : "";

    /// <summary>
    /// The smallest power of two that holds one server_names hash element of <paramref name="length"/>
    /// bytes: a pointer, the name plus 2 rounded up to 8, and the bucket's end pointer (ngx_hash.c).
    /// </summary>
    private static int BucketSizeFor(int length)
    {
        var needed = 8 + ((length + 2 + 7) & ~7) + 8;
        var size = 128;
        while (size < needed)
        {
            size *= 2;
        }

        return size;
    }

    /// <summary>A power of two at least 512 and four times the names: room for nginx to find a hash without collisions.</summary>
    private static int HashMaxSizeFor(int names)
    {
        var size = 512;
        while (size < names * 4)
        {
            size *= 2;
        }

        return size;
    }

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    // nginx 1.18 (Ubuntu 22.04) and 1.22 (Debian 12) have no "http2 on;": http2 goes on listen.
    private static void Listen(StringBuilder text, NginxSiteSpec site, string what)
    {
        text.Append("    listen ").Append(what).Append(";\n");
        if (site.ListenIPv6)
        {
            text.Append("    listen [::]:").Append(what).Append(";\n");
        }
    }

    // Inside each server: at the top of a site file these would apply to every server nginx has.
    private static void Logs(StringBuilder text, NginxSiteSpec site)
    {
        text.Append("    access_log ").Append(site.AccessLogPath).Append(";\n");
        text.Append("    error_log ").Append(site.ErrorLogPath).Append(";\n");
    }

    // Every 443 server on the socket gets the same settings: before SNI picks a server, OpenSSL uses the default one's.
    private static void Tls(StringBuilder text, NginxSiteSpec site)
    {
        text.Append('\n');
        text.Append("    ssl_certificate ").Append(site.CertificatePath).Append(";\n");
        text.Append("    ssl_certificate_key ").Append(site.KeyPath).Append(";\n");
        text.Append("    ssl_protocols TLSv1.2 TLSv1.3;\n");
        text.Append("    ssl_ciphers ").Append(Ciphers).Append(";\n");
        text.Append("    ssl_prefer_server_ciphers off;\n");
        text.Append("    ssl_session_cache shared:")
            .Append(site.OwnsHttpSettings ? $"odoofleet_{site.SiteName}_tls" : NginxSiteSpec.TenantTlsSessionCache).Append(":10m;\n");
        text.Append("    ssl_session_timeout 1d;\n");
        text.Append("    ssl_session_tickets off;\n");

        // No includeSubDomains: other services under the same parent domain may not speak HTTPS.
        text.Append("    add_header Strict-Transport-Security \"max-age=31536000\" always;\n");
        text.Append("    server_tokens off;\n");
    }

    // Host is the primary domain, not the client's Host header: Odoo builds absolute URLs (password
    // reset links) from it. X-Forwarded-For is overwritten, never appended: with proxy_mode Odoo logs
    // that address and fail2ban bans it, so a client must not be able to choose it.
    private static void ProxyHeaders(StringBuilder text, string primary, string indent)
    {
        text.Append(indent).Append("proxy_set_header Host ").Append(primary).Append(";\n");
        text.Append(indent).Append("proxy_set_header X-Forwarded-Host ").Append(primary).Append(";\n");
        text.Append(indent).Append("proxy_set_header X-Forwarded-Proto https;\n");
        text.Append(indent).Append("proxy_set_header X-Real-IP $remote_addr;\n");
        text.Append(indent).Append("proxy_set_header X-Forwarded-For $remote_addr;\n");
    }
}
