using System.Globalization;
using System.Text.RegularExpressions;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>
/// A fresh, bare Debian 12 test host (th5, not enrolled) converged by `odoofleet-agent converge
/// --spec` to the whole Odoo 18 production stack, then probed from outside like a client would.
/// </summary>
public sealed partial class FreshHost : IAsyncLifetime
{
    public const string Name = "th5";
    public const string Domain = "th5.odoofleet.test";
    public const string Address = "10.231.0.15"; // testhosts.sh: 10.231.0.(10 + n)
    public const int LoginMaxRetry = 3;
    public const string Agent = "/opt/odoofleet/agent/odoofleet-agent";

    public ProcResult First { get; private set; } = null!;

    public string Commit { get; private set; } = "";

    public string CaFile { get; } = Path.Combine(Path.GetTempPath(), $"odoofleet-th5-ca-{Environment.ProcessId}.pem");

    public async ValueTask InitializeAsync()
    {
        var testhosts = Path.Combine(LiveFleet.RepoRoot, "tests/hosts/testhosts.sh");
        await Proc.CheckedAsync("bash", [testhosts, "destroy", Name], TimeSpan.FromMinutes(2));
        await Proc.CheckedAsync("bash", [testhosts, "up", "--bind-ro", "/opt/odoofleet/agent:/opt/odoofleet/agent", Name], TimeSpan.FromMinutes(5));
        Commit = await LiveFleet.HeadOf18Async();
        await WriteSpecAsync("/root/spec.json", Spec());
        await OnHostAsync("mkdir", "-p", "/opt/wheelhouse");
        First = await ConvergeAsync("/root/spec.json", TimeSpan.FromMinutes(15));
        var cert = await OnHostAsync("cat", "/etc/ssl/odoofleet/odoo.crt");
        await File.WriteAllTextAsync(CaFile, cert.Stdout);
    }

    public async ValueTask DisposeAsync()
    {
        File.Delete(CaFile);
        await Proc.RunAsync("bash", [Path.Combine(LiveFleet.RepoRoot, "tests/hosts/testhosts.sh"), "destroy", Name], TimeSpan.FromMinutes(2));
    }

    /// <summary>The host's spec as protobuf JSON; <paramref name="odooExtra"/> and <paramref name="webDomains"/> vary it for bad-input tests.</summary>
    public string Spec(string odooExtra = "", string? webDomains = null) => $$"""
        {
          "hostId": "h-th5fresh01",
          "generation": "1",
          "odoo": {
            "release": {"series": "18.0", "commit": "{{Commit}}"},
            "sourceUrl": "git://10.231.0.1/odoo.git",
            "wheelhouse": "/opt/wheelhouse"{{odooExtra}}
          },
          "web": {"domains": [{{webDomains ?? $"\"{Domain}\""}}]},
          "security": {"loginMaxRetry": {{LoginMaxRetry}}}
        }
        """;

    public static Task WriteSpecAsync(string path, string json) =>
        Proc.RunAsync(
            "bash", [Path.Combine(LiveFleet.RepoRoot, "tests/hosts/testhosts.sh"), "exec", Name, "--", "sh", "-c", $"cat > {path}"],
            TimeSpan.FromMinutes(1), stdin: json);

    public static Task<ProcResult> ConvergeAsync(string spec, TimeSpan timeout, params string[] extra) =>
        Proc.RunAsync(
            "bash",
            [Path.Combine(LiveFleet.RepoRoot, "tests/hosts/testhosts.sh"), "exec", Name, "--", "env", "DOTNET_ROOT=/usr/share/dotnet", Agent, "converge", "--spec", spec, .. extra],
            timeout);

    public static Task<ProcResult> OnHostAsync(params string[] command) => LiveFleet.OnHostAsync(Name, command);

    /// <summary>An HTTPS request from this box to the host's nginx, verifying the certificate for the domain; stdout is "CODE REDIRECT".</summary>
    public async Task<ProcResult> CurlAsync(string scheme, string path, params string[] extra)
    {
        var r = await Proc.RunAsync(
            "curl",
            [
                "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "--max-time", "10", "--cacert", CaFile,
                "--resolve", $"{Domain}:443:{Address}", "--resolve", $"{Domain}:80:{Address}", .. extra, $"{scheme}://{Domain}{path}",
            ],
            TimeSpan.FromSeconds(30));
        return r with { Stdout = r.Stdout.Trim() };
    }

    public static string CountLine(ProcResult r) => SummaryPattern().Match(r.Stdout).Value;

    [GeneratedRegex(@"generation \d+[^:]*: \w+, \d+ (would change|changed), \d+ unchanged, \d+ failed, \d+ skipped")]
    private static partial Regex SummaryPattern();
}

[Collection(StackGroup.Name)]
public sealed class ProfileTests(LiveFleet stack, FreshHost host) : IClassFixture<FreshHost>
{
    private static readonly TimeSpan Converge = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Converge_BareDebian_FullStackThenSecondRunChangesNothing()
    {
        Assert.True(host.First.ExitCode == 0, host.First.Describe());
        Assert.Contains(", 0 failed, 0 skipped", FreshHost.CountLine(host.First), StringComparison.Ordinal);
        Assert.Contains("CHANGED    packages:odoo-host", host.First.Stdout, StringComparison.Ordinal);

        var second = await FreshHost.ConvergeAsync("/root/spec.json", Converge);

        Assert.True(second.ExitCode == 0, second.Describe());
        Assert.True(Regex.IsMatch(FreshHost.CountLine(second), @": ok, 0 changed, \d+ unchanged, 0 failed, 0 skipped"), second.Stdout);
        var active = await FreshHost.OnHostAsync("systemctl", "is-active", "odoo", "nginx", "postgresql", "fail2ban");
        Assert.Equal("active\nactive\nactive\nactive", active.Stdout.Trim());
        Assert.NotNull(stack);
    }

    [Fact]
    public async Task Nginx_FromOutside_HttpsHealthWebsocketProxiedDatabaseManagerRefused()
    {
        Assert.Equal("200", (await host.CurlAsync("https", "/web/health")).Stdout);
        // The fixture's gevent port answers /websocket with 426: nginx sent it there, with the upgrade headers.
        Assert.StartsWith("426", (await host.CurlAsync("https", "/websocket")).Stdout, StringComparison.Ordinal);
        Assert.StartsWith("403", (await host.CurlAsync("https", "/web/database/manager")).Stdout, StringComparison.Ordinal);
        Assert.StartsWith("403", (await host.CurlAsync("https", "/web/database/selector")).Stdout, StringComparison.Ordinal);
        Assert.Equal($"301 https://{FreshHost.Domain}/web/login", (await host.CurlAsync("http", "/web/login")).Stdout);

        // Odoo itself listens on loopback only, and the firewall lets nothing else in.
        var direct = await Proc.RunAsync("curl", ["-sS", "--max-time", "3", $"http://{FreshHost.Address}:8069/web/health"], TimeSpan.FromSeconds(20));
        Assert.NotEqual(0, direct.ExitCode);
        var ufw = await FreshHost.OnHostAsync("ufw", "status");
        Assert.Contains("Status: active", ufw.Stdout, StringComparison.Ordinal);
        foreach (var port in new[] { "22/tcp", "80/tcp", "443/tcp" })
        {
            Assert.Contains(port, ufw.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Postgres_TunedFromFactsWithPeerAuthForOdoo()
    {
        var check = await FreshHost.ConvergeAsync("/root/spec.json", Converge, "--check");
        var planned = Regex.Match(check.Stdout, @"# shared_buffers = .* = (\d+[MG]B)\n");
        Assert.True(planned.Success, check.Stdout);

        var shown = await FreshHost.OnHostAsync("runuser", "-u", "postgres", "--", "psql", "-XAtc", "SHOW shared_buffers");
        var asOdoo = await FreshHost.OnHostAsync("runuser", "-u", "odoo", "--", "psql", "-XAt", "-d", "postgres", "-c", "SELECT current_user, rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user");

        Assert.Equal(planned.Groups[1].Value, shown.Stdout.Trim());
        Assert.NotEqual("128MB", shown.Stdout.Trim());
        Assert.Equal("odoo|f|t", asOdoo.Stdout.Trim());
    }

    [Fact]
    public async Task Check_AfterHandEdit_ReportsExactlyThatEditAsDiffThenConvergePutsItBack()
    {
        var before = await FreshHost.OnHostAsync("grep", "^workers = ", "/etc/odoo.conf");
        await FreshHost.OnHostAsync("sed", "-i", "s/^workers = .*/workers = 77/", "/etc/odoo.conf");
        try
        {
            var check = await FreshHost.ConvergeAsync("/root/spec.json", Converge, "--check");

            Assert.Equal(9, check.ExitCode);
            // Exactly the edited file, and the restart it would cause.
            var changed = check.Stdout.Split('\n').Where(l => l.StartsWith("CHANGED", StringComparison.Ordinal))
                .ToDictionary(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], l => l);
            Assert.Equal(["file:/etc/odoo.conf", "service:odoo.service"], changed.Keys.Order(StringComparer.Ordinal));
            Assert.Contains("restart (file:/etc/odoo.conf changed)", changed["service:odoo.service"], StringComparison.Ordinal);
            Assert.Contains("\n-workers = 77\n", check.Stdout, StringComparison.Ordinal);
            Assert.Contains($"\n+{before.Stdout.Trim()}\n", check.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("$pbkdf2-sha512$", check.Stdout, StringComparison.Ordinal);
            Assert.Equal("workers = 77", (await FreshHost.OnHostAsync("grep", "^workers = ", "/etc/odoo.conf")).Stdout.Trim());
        }
        finally
        {
            var fix = await FreshHost.ConvergeAsync("/root/spec.json", Converge);
            Assert.True(fix.ExitCode == 0, fix.Describe());
        }

        Assert.Equal(before.Stdout.Trim(), (await FreshHost.OnHostAsync("grep", "^workers = ", "/etc/odoo.conf")).Stdout.Trim());
        var again = await FreshHost.ConvergeAsync("/root/spec.json", Converge, "--check");
        Assert.Equal(0, again.ExitCode);
    }

    [Fact]
    public async Task Fail2ban_FailedLoginsInOdooLog_BanTheClientThenUnban()
    {
        const string Client = "10.231.0.1";
        Assert.Equal("200", (await host.CurlAsync("https", "/web/health")).Stdout);
        try
        {
            for (var i = 0; i < FreshHost.LoginMaxRetry; i++)
            {
                var post = await host.CurlAsync("https", "/web/login", "-d", "login=admin&password=wrong&db=postgres");
                Assert.StartsWith("200", post.Stdout, StringComparison.Ordinal);
            }

            var log = await FreshHost.OnHostAsync("grep", "-c", $"Login failed for db:postgres login:admin from {Client}", "/var/log/odoo/odoo.log");
            Assert.True(int.Parse(log.Stdout.Trim(), CultureInfo.InvariantCulture) >= FreshHost.LoginMaxRetry, log.Describe());

            await Eventually.UntilAsync(
                async () => (ProcResult?)await FreshHost.OnHostAsync("fail2ban-client", "status", "odoo-login"),
                r => r is not null && r.Stdout.Contains(Client, StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), "fail2ban banning the client");
            var blocked = await host.CurlAsync("https", "/web/health");
            Assert.NotEqual(0, blocked.ExitCode);
        }
        finally
        {
            await FreshHost.OnHostAsync("fail2ban-client", "set", "odoo-login", "unbanip", Client);
        }

        var back = await Eventually.UntilAsync(async () => (ProcResult?)await host.CurlAsync("https", "/web/health"), r => r?.Stdout == "200", TimeSpan.FromSeconds(30), "access after unban");
        Assert.Equal("200", back.Stdout);
    }

    public static TheoryData<string, string, string?> BadSpecs => new()
    {
        { "redis_host", ",\n\"options\": {\"redis_host\": \"localhost\"}", null },
        { "redis", ",\n\"options\": {\"redis\": \"True\"}", null },
        { "web.domains", "", "\"th5.odoofleet.test\\nserver_name evil\"" },
        { "web.domains", "", "\"evil.test; include /etc/passwd\"" },
        { "web.domains", "", "\"evil{.test\"" },
        { "odoo.workers", ",\n\"workers\": 500", null },
        { "odoo.log_level", ",\n\"logLevel\": \"info_rpc\"", null },
    };

    [Theory]
    [MemberData(nameof(BadSpecs))]
    public async Task Converge_BadSpec_RefusedBeforeAnythingIsTouched(string expected, string odooExtra, string? domains)
    {
        var confBefore = await FreshHost.OnHostAsync("sha256sum", "/etc/odoo.conf", "/etc/nginx/sites-available/odoo", "/etc/postgresql/15/main/pg_hba.conf");
        var pidsBefore = await FreshHost.OnHostAsync("systemctl", "show", "-p", "MainPID", "odoo", "nginx");
        await FreshHost.WriteSpecAsync("/root/bad.json", host.Spec(odooExtra, domains));

        var r = await FreshHost.ConvergeAsync("/root/bad.json", Converge);

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("invalid host spec", r.Stderr, StringComparison.Ordinal);
        Assert.Contains(expected, r.Stderr, StringComparison.Ordinal);
        Assert.Contains("0 changed", r.Stdout, StringComparison.Ordinal);
        Assert.Equal(confBefore.Stdout, (await FreshHost.OnHostAsync("sha256sum", "/etc/odoo.conf", "/etc/nginx/sites-available/odoo", "/etc/postgresql/15/main/pg_hba.conf")).Stdout);
        Assert.Equal(pidsBefore.Stdout, (await FreshHost.OnHostAsync("systemctl", "show", "-p", "MainPID", "odoo", "nginx")).Stdout);
    }
}
