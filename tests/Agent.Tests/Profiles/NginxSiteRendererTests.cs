using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class NginxSiteRendererTests
{
    private static readonly NginxSiteSpec Production = new(
        "erp.example.com", ["www.erp.example.com", "erp.example.org"], 8069, 8072,
        "/etc/ssl/odoofleet/odoo.crt", "/etc/ssl/odoofleet/odoo.key", "/var/www/odoofleet-acme");

    /// <summary>A DNS name of the maximum length (253): four labels of 63, 63, 63 and 61.</summary>
    internal static readonly string LongestDomain =
        $"{new string('a', 63)}.{new string('b', 63)}.{new string('c', 63)}.{new string('d', 61)}";

    [Fact]
    public void Render_ProductionSpec_ExactSite()
    {
        const string Expected = """
        # Managed by odoofleet-agent: local changes are put back on the next converge.
        # Odoo site "odoo": https://erp.example.com/

        map $http_upgrade $odoofleet_odoo_connection_upgrade {
            default upgrade;
            ''      close;
        }

        upstream odoofleet_odoo_http {
            server 127.0.0.1:8069;
        }

        upstream odoofleet_odoo_gevent {
            server 127.0.0.1:8072;
        }

        # proxy_cache_valid only works with a zone defined here and used by proxy_cache (SEED-ERRATA #16).
        proxy_cache_path /var/cache/nginx/odoofleet/odoo levels=1:2 keys_zone=odoofleet_odoo_static:10m max_size=1g inactive=7d use_temp_path=off;

        server {
            listen 80;
            listen [::]:80;
            server_name erp.example.com www.erp.example.com erp.example.org;
            access_log /var/log/nginx/odoofleet-odoo.access.log;
            error_log /var/log/nginx/odoofleet-odoo.error.log;

            location ^~ /.well-known/acme-challenge/ {
                root /var/www/odoofleet-acme;
                default_type text/plain;
                try_files $uri =404;
            }

            location / {
                return 301 https://erp.example.com$request_uri;
            }
        }

        server {
            listen 443 ssl http2;
            listen [::]:443 ssl http2;
            server_name erp.example.com;
            access_log /var/log/nginx/odoofleet-odoo.access.log;
            error_log /var/log/nginx/odoofleet-odoo.error.log;

            ssl_certificate /etc/ssl/odoofleet/odoo.crt;
            ssl_certificate_key /etc/ssl/odoofleet/odoo.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
            ssl_prefer_server_ciphers off;
            ssl_session_cache shared:odoofleet_odoo_tls:10m;
            ssl_session_timeout 1d;
            ssl_session_tickets off;
            add_header Strict-Transport-Security "max-age=31536000" always;
            server_tokens off;

            client_max_body_size 100m;
            proxy_connect_timeout 720s;
            proxy_send_timeout 720s;
            proxy_read_timeout 720s;
            proxy_redirect off;
            proxy_set_header Host erp.example.com;
            proxy_set_header X-Forwarded-Host erp.example.com;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;

            gzip on;
            gzip_vary on;
            gzip_proxied any;
            gzip_min_length 1024;
            gzip_types text/css text/plain text/xml text/javascript application/javascript application/json application/xml image/svg+xml;

            # Odoo 16+ serves the bus over /websocket on the gevent port (SEED-ERRATA #1).
            location /websocket {
                proxy_pass http://odoofleet_odoo_gevent;
                proxy_http_version 1.1;
                # A location with its own proxy_set_header inherits none, so the common ones are repeated.
                proxy_set_header Host erp.example.com;
                proxy_set_header X-Forwarded-Host erp.example.com;
                proxy_set_header X-Forwarded-Proto https;
                proxy_set_header X-Real-IP $remote_addr;
                proxy_set_header X-Forwarded-For $remote_addr;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $odoofleet_odoo_connection_upgrade;
                proxy_read_timeout 3600s;
            }

            # Database manager blocked (SEED-ERRATA #14); odoo.conf also has list_db = False.
            location ^~ /web/database {
                return 403;
            }

            location /web/static/ {
                proxy_pass http://odoofleet_odoo_http;
                proxy_cache odoofleet_odoo_static;
                proxy_cache_valid 200 60m;
                proxy_cache_use_stale error timeout updating http_502 http_503 http_504;
                proxy_cache_lock on;
                proxy_buffering on;
            }

            location / {
                proxy_pass http://odoofleet_odoo_http;
            }
        }

        server {
            listen 443 ssl http2;
            listen [::]:443 ssl http2;
            server_name www.erp.example.com erp.example.org;
            access_log /var/log/nginx/odoofleet-odoo.access.log;
            error_log /var/log/nginx/odoofleet-odoo.error.log;

            ssl_certificate /etc/ssl/odoofleet/odoo.crt;
            ssl_certificate_key /etc/ssl/odoofleet/odoo.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;
            ssl_prefer_server_ciphers off;
            ssl_session_cache shared:odoofleet_odoo_tls:10m;
            ssl_session_timeout 1d;
            ssl_session_tickets off;
            add_header Strict-Transport-Security "max-age=31536000" always;
            server_tokens off;

            location / {
                return 301 https://erp.example.com$request_uri;
            }
        }

        """;
        Assert.Equal(Expected, NginxSiteRenderer.Render(Production));
    }

    [Fact]
    public void Render_SameSpecTwice_SameBytes() =>
        Assert.Equal(NginxSiteRenderer.Render(Production), NginxSiteRenderer.Render(Production with { Aliases = [.. Production.Aliases] }));

    // Keyed by description: theory parameters must be public types, the spec is internal.
    private static readonly Dictionary<string, (NginxSiteSpec Spec, string[] Contains, string[] Omits)> VariantCases = new()
    {
        {
            "no aliases: no redirect server on 443",
            (Production with { Aliases = [] },
            ["    server_name erp.example.com;\n    access_log", "listen 443 ssl http2;"],
            ["www.erp.example.com", "server_name erp.example.com www"])
        },
        {
            "database manager opened explicitly",
            (Production with { DatabaseManagerOpen = true },
            ["# The database manager is open on purpose (nginx.database_manager_open).\n"],
            ["location ^~ /web/database", "return 403;"])
        },
        {
            "database manager closed by default",
            (Production,
            ["    location ^~ /web/database {\n        return 403;\n    }\n"],
            ["database manager is open"])
        },
        {
            "IPv4 only",
            (Production with { ListenIPv6 = false },
            ["    listen 80;\n    server_name", "    listen 443 ssl http2;\n    server_name"],
            ["[::]"])
        },
        {
            "custom ports and site name",
            (Production with { HttpPort = 18069, GeventPort = 18072, SiteName = "tenant_b" },
            [
                "upstream odoofleet_tenant_b_http {\n    server 127.0.0.1:18069;\n}\n",
                "upstream odoofleet_tenant_b_gevent {\n    server 127.0.0.1:18072;\n}\n",
                "map $http_upgrade $odoofleet_tenant_b_connection_upgrade {",
                "proxy_cache_path /var/cache/nginx/odoofleet/tenant_b levels=1:2 keys_zone=odoofleet_tenant_b_static:10m",
                "access_log /var/log/nginx/odoofleet-tenant_b.access.log;",
                "ssl_session_cache shared:odoofleet_tenant_b_tls:10m;",
            ],
            ["127.0.0.1:8069;", "127.0.0.1:8072;", "odoofleet_odoo_"])
        },
        {
            "single-label host name when allowed",
            (Production with { PrimaryDomain = "odoo1", Aliases = [], AllowSingleLabelNames = true },
            ["server_name odoo1;", "return 301 https://odoo1$request_uri;", "proxy_set_header Host odoo1;"],
            ["erp.example.com"])
        },
        {
            "upload limit",
            (Production with { MaxUploadMegabytes = 512 },
            ["client_max_body_size 512m;"],
            ["100m"])
        },
        {
            "a 253-character name gets a bucket that holds it",
            (Production with { Aliases = [LongestDomain] },
            ["server_names_hash_bucket_size 512;\n"],
            [])
        },
        {
            "a 46-character name fits the default bucket",
            (Production with { Aliases = [new string('a', 42) + ".com"] },
            [],
            ["server_names_hash_bucket_size"])
        },
        {
            "a 47-character name does not",
            (Production with { Aliases = [new string('a', 43) + ".com"] },
            ["server_names_hash_bucket_size 128;\n"],
            [])
        },
    };

    public static TheoryData<string> Variants => [.. VariantCases.Keys];

    [Theory]
    [MemberData(nameof(Variants))]
    public void Render_Variant_ContainsAndOmits(string because)
    {
        var (spec, contains, omits) = VariantCases[because];
        var text = NginxSiteRenderer.Render(spec);
        Assert.All(contains, fragment => Assert.True(text.Contains(fragment, StringComparison.Ordinal), $"{because}: missing {fragment}"));
        Assert.All(omits, fragment => Assert.False(text.Contains(fragment, StringComparison.Ordinal), $"{because}: unexpected {fragment}"));
        Assert.EndsWith("}\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_AnySpec_NeverForwardsClientSuppliedAddressesOrLongpolling()
    {
        var text = NginxSiteRenderer.Render(Production);
        Assert.DoesNotContain("$proxy_add_x_forwarded_for", text, StringComparison.Ordinal);
        Assert.DoesNotContain("$http_x_forwarded", text, StringComparison.Ordinal);
        Assert.DoesNotContain("longpolling", text, StringComparison.Ordinal);
        Assert.DoesNotContain("http2 on", text, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, NginxSiteSpec> InvalidCases = new()
    {
        { "nginx.primary_domain: 'ERP.example.com' is not a lowercase DNS name", Production with { PrimaryDomain = "ERP.example.com" } },
        { "a name without dots needs nginx.allow_single_label_names", Production with { PrimaryDomain = "odoo1" } },
        { "nginx.aliases[0]: '*.example.com' is not a lowercase DNS name", Production with { Aliases = ["*.example.com"] } },
        { "nginx.aliases[0]: 'erp.example.com' is already the primary domain", Production with { Aliases = ["erp.example.com"] } },
        { "nginx.aliases[1]: 'a.example.com' is already", Production with { Aliases = ["a.example.com", "a.example.com"] } },
        { "nginx.aliases: 100 aliases", Production with { Aliases = [.. Enumerable.Range(0, 100).Select(i => $"a{i}.example.com")] } },
        { "nginx.http_port: 0 is not a TCP port", Production with { HttpPort = 0 } },
        { "nginx.gevent_port: 70000 is not a TCP port", Production with { GeventPort = 70000 } },
        { "nginx.gevent_port: 8069 equals nginx.http_port", Production with { GeventPort = 8069 } },
        { "nginx.certificate_path: 'etc/ssl/odoo.crt' must be an absolute path", Production with { CertificatePath = "etc/ssl/odoo.crt" } },
        { "nginx.key_path:", Production with { KeyPath = "/etc/ssl/../shadow" } },
        { "nginx.acme_webroot: '/var/www/' must be an absolute path", Production with { AcmeWebroot = "/var/www/" } },
        { "nginx.log_directory:", Production with { LogDirectory = "/var/log/nginx;" } },
        { "nginx.cache_directory:", Production with { CacheDirectory = "/var/cache/a b" } },
        { "nginx.site_name: 'odoo-b' must be a lowercase identifier", Production with { SiteName = "odoo-b" } },
        { "nginx.site_name:", Production with { SiteName = "" } },
        { "nginx.max_upload_megabytes: 0 is outside 1-10240", Production with { MaxUploadMegabytes = 0 } },
    };

    public static TheoryData<string> InvalidSpecs => [.. InvalidCases.Keys];

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void Render_InvalidSpec_ThrowsNamingFieldAndRule(string expected)
    {
        var spec = InvalidCases[expected];
        var error = Assert.Throws<SpecValidationException>(() => NginxSiteRenderer.Render(spec));
        Assert.Contains(error.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    /// <summary>Characters that would break out of a server_name, a path or a directive, or look like ASCII without being it.</summary>
    private static readonly string[] Hostile =
    [
        "\n", "\r", "\t", "\0", ";", "{", "}", "\"", "'", " ", "$", "#", "\\", "`", "*", "?", "(", ")", "<", ">", "|", "&", ",", "=",
        "\u00e9", "\u00fc", "\u0131", "\u0430", "\u200b", "\u00a0", "\uff04", "\uff1b", "\u2028", "\U0001F600", "A",
    ];

    private static IEnumerable<string> HostileVariants(string valid, int seed, int count)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var text = valid;
            var insertions = random.Next(1, 4);
            for (var j = 0; j < insertions; j++)
            {
                text = text.Insert(random.Next(0, text.Length + 1), Hostile[random.Next(Hostile.Length)]);
            }

            yield return text;
        }

        foreach (var hostile in Hostile)
        {
            yield return hostile;
            yield return hostile + valid;
            yield return valid + hostile;
        }
    }

    [Fact]
    public void Validate_ThousandsOfHostileNames_NoneAccepted()
    {
        var accepted = new List<string>();
        // '_' is fine in a site name, never in a DNS name.
        string[] underscores = ["erp_x.example.com", "_acme.example.com", "erp.example._com"];
        foreach (var name in HostileVariants("erp.example.com", seed: 20240518, count: 3000).Concat(underscores))
        {
            var specs = new[]
            {
                Production with { PrimaryDomain = name },
                Production with { Aliases = [name] },
                Production with { PrimaryDomain = name, AllowSingleLabelNames = true },
                Production with { SiteName = underscores.Contains(name) ? "-" : name },
            };
            if (specs.Any(spec => spec.Validate().Count == 0))
            {
                accepted.Add(name);
            }
        }

        Assert.Empty(accepted);
    }

    [Fact]
    public void Validate_ThousandsOfHostilePaths_NoneAccepted()
    {
        // Upper case is fine in a path: only the rest of the hostile set applies.
        var accepted = HostileVariants("/etc/ssl/odoofleet/odoo.crt", seed: 7, count: 3000)
            .Where(path => path.Any(c => c != 'A' && Hostile.Any(h => h.Contains(c, StringComparison.Ordinal))))
            .Where(path => new[]
            {
                Production with { CertificatePath = path },
                Production with { KeyPath = path },
                Production with { AcmeWebroot = path },
                Production with { LogDirectory = path },
                Production with { CacheDirectory = path },
            }.Any(spec => spec.Validate().Count == 0))
            .ToList();

        Assert.Empty(accepted);
    }
}
