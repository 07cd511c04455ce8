using System.Text.Json;
using Grpc.Core;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet host configure`, `fleet host plan` and the profile in `fleet host show`, against a real in-process gRPC server.</summary>
public sealed class HostConfigureAndPlanTests
{
    private static Task<CliResult> RunAsync(params string[] args) => CliRun.RunAsync(args);

    [Fact]
    public async Task Configure_ManySettings_SendsOnePatchWithOnlyThoseFields()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync(
            "--controller", controller.Address, "host", "configure", "web-01",
            "--domain", "erp.example.com", "--domain", "www.example.com", "--tls", "acme", "--acme-email", "ops@example.com",
            "--workers", "auto", "--cron-threads", "2", "--option", "limit_time_cpu=600", "--option", "email_from=odoo@example.com",
            "--unset-option", "limit_request", "--log-level", "default", "--database-manager", "blocked",
            "--login-find-time", "10m", "--login-ban", "1d", "--unattended-upgrades", "on");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.Single(controller.Service.ConfigureRequests);
        Assert.Equal("web-01", sent.Id);
        Assert.Equal(["erp.example.com", "www.example.com"], sent.Domains.Values);
        Assert.Equal(TlsMode.Acme, sent.Tls);
        Assert.Equal("ops@example.com", sent.AcmeEmail);
        Assert.True(sent.HasWorkers);
        Assert.Equal(0, sent.Workers);
        Assert.Equal(2, sent.MaxCronThreads);
        Assert.Equal("600", sent.SetOdooOptions["limit_time_cpu"]);
        Assert.Equal("odoo@example.com", sent.SetOdooOptions["email_from"]);
        Assert.Equal(["limit_request"], sent.UnsetOdooOptions);
        Assert.True(sent.HasLogLevel);
        Assert.Equal("", sent.LogLevel);
        Assert.False(sent.DatabaseManager);
        Assert.True(sent.HasDatabaseManager);
        Assert.Equal(600, sent.LoginFindTimeSeconds);
        Assert.Equal(86400, sent.LoginBanSeconds);
        Assert.False(sent.UnattendedUpgradesOff);
        Assert.False(sent.HasPostgresRemote);
        Assert.False(sent.HasPostgresHost);
        Assert.False(sent.HasLoginMaxRetry);
        Assert.Contains("web-01: profile changed; desired generation is now 5 and the agent converges to it", result.Out, StringComparison.Ordinal);
        Assert.Contains("erp.example.com (primary), www.example.com", result.Out, StringComparison.Ordinal);
        Assert.Contains("preview what the agent does with it: fleet host plan web-01", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configure_RemotePostgres_SendsServerSettingsAndNeverAPassword()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync(
            "--controller", controller.Address, "host", "configure", "web-01",
            "--postgres", "remote", "--pg-host", "db1.example.com", "--pg-port", "6432", "--pg-user", "default", "--pg-sslmode", "verify-full");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.Single(controller.Service.ConfigureRequests);
        Assert.True(sent.PostgresRemote);
        Assert.Equal("db1.example.com", sent.PostgresHost);
        Assert.Equal(6432, sent.PostgresPort);
        Assert.True(sent.HasPostgresUser);
        Assert.Equal("", sent.PostgresUser);
        Assert.Equal("verify-full", sent.PostgresSslmode);
    }

    [Theory]
    [InlineData("--pg-password", "s3cret")]
    [InlineData("--password", "s3cret")]
    public async Task Configure_PasswordOption_Exit2AndNotEchoedAsAccepted(string option, string value)
    {
        var result = await RunAsync("--controller", "http://127.0.0.1:1", "host", "configure", "web-01", "--postgres", "remote", option, value);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(option, result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configure_Json_ChangedFlagAndProfile()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync("--controller", controller.Address, "host", "configure", "web-01", "--domain", "erp.example.com", "--workers", "4", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.True(doc.RootElement.GetProperty("changed").GetBoolean());
        var host = doc.RootElement.GetProperty("host");
        Assert.Equal(5, host.GetProperty("desiredGeneration").GetInt64());
        var profile = host.GetProperty("profile");
        Assert.Equal("erp.example.com", profile.GetProperty("domains")[0].GetString());
        Assert.Equal(4, profile.GetProperty("workers").GetInt32());
        Assert.Equal(JsonValueKind.Null, profile.GetProperty("cronThreads").ValueKind);
        Assert.Equal("self-signed", profile.GetProperty("tls").GetString());
        Assert.Equal("blocked", profile.GetProperty("databaseManager").GetString());
        Assert.Equal("local", profile.GetProperty("postgres").GetProperty("mode").GetString());
        Assert.True(profile.GetProperty("unattendedUpgrades").GetBoolean());
        Assert.Equal("", result.Err);
    }

    [Fact]
    public async Task Configure_SameSettingsAgain_SaysNothingChanged()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());
        controller.Service.ConfigureChanged = false;

        var result = await RunAsync("--controller", controller.Address, "host", "configure", "web-01", "--workers", "5");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("web-01: already configured so; nothing changed (desired generation stays 4)", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("fleet host plan", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configure_ClearDomains_SendsAnEmptyList()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync("--controller", controller.Address, "host", "configure", "web-01", "--clear-domains");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.Single(controller.Service.ConfigureRequests);
        Assert.NotNull(sent.Domains);
        Assert.Empty(sent.Domains.Values);
        Assert.Contains("- (the host name)", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Configure_ControllerRefuses_Exit2WithItsMessage()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());
        controller.Service.ConfigureRefusal = "domain: 'Erp.example.com' is not a DNS name (write it in lowercase: erp.example.com)";

        var result = await RunAsync("--controller", controller.Address, "host", "configure", "web-01", "--domain", "Erp.example.com");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Equal("error: domain: 'Erp.example.com' is not a DNS name (write it in lowercase: erp.example.com)\n", result.Err);
        Assert.Equal("", result.Out);
    }

    [Fact]
    public async Task Configure_UnknownHost_Exit5()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "host", "configure", "nope", "--workers", "3");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Contains("host 'nope' not found", result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nothing to change")]
    [InlineData("contradict each other", "--domain", "a.example.com", "--clear-domains")]
    [InlineData("is not KEY=VALUE", "--option", "limit_time_cpu")]
    [InlineData("is not KEY=VALUE", "--option", "=600")]
    [InlineData("is given more than once", "--option", "limit_time_cpu=1", "--option", "limit_time_cpu=2")]
    [InlineData("--workers: 'many' is not a positive whole number or 'auto'", "--workers", "many")]
    [InlineData("--workers: '0' is not a positive whole number", "--workers", "0")]
    [InlineData("--cron-threads: '-1'", "--cron-threads", "-1")]
    [InlineData("--tls: 'letsencrypt' is not a TLS mode; use self-signed or acme", "--tls", "letsencrypt")]
    [InlineData("--database-manager: 'yes' is not a state; use blocked or open", "--database-manager", "yes")]
    [InlineData("--postgres: 'cloud' is not a location; use local or remote", "--postgres", "cloud")]
    [InlineData("--login-ban: 'forever' is not a duration", "--login-ban", "forever")]
    [InlineData("--unattended-upgrades: 'maybe'", "--unattended-upgrades", "maybe")]
    public async Task Configure_BadUsage_Exit2BeforeAnyCall(string expected, params string[] settings)
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync(["--controller", controller.Address, "host", "configure", "web-01", .. settings]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(expected, result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task ConfigureHelp_TellsFlagsKeywordsAndThatNoPasswordIsAccepted()
    {
        var result = await RunAsync("host", "configure", "--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var text in new[]
        {
            "--domain <name>", "--clear-domains", "--tls <self-signed|acme>", "--workers <N|auto>", "--option <key=value>", "--unset-option <key>",
            "--log-level <level|default>", "--database-manager <blocked|open>", "--postgres <local|remote>", "--pg-sslmode <mode|default>",
            "--login-max-retry <N|default>", "--login-ban <duration|default>", "-o, --output",
            "fleet host configure web-01 --domain erp.example.com", "The remote PostgreSQL password is deliberately not accepted here",
            "encrypted secret store",
        })
        {
            Assert.Contains(text, result.Out, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Show_TableAndJson_IncludeTheProfile()
    {
        await using var controller = await TestController.StartAsync();
        var host = Samples.OnlineHost();
        host.Profile = Samples.Profile();
        controller.Service.Hosts.Add(host);

        var table = await RunAsync("--controller", controller.Address, "host", "show", "web-01");
        var json = await RunAsync("--controller", controller.Address, "host", "show", "web-01", "-o", "json");

        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Contains("Profile", table.Out, StringComparison.Ordinal);
        Assert.Contains("acme, contact ops@example.com", table.Out, StringComparison.Ordinal);
        Assert.Contains("remote db1.example.com:5432, user odoo, sslmode verify-full", table.Out, StringComparison.Ordinal);
        Assert.Contains("after 3 failed logins within default, for 1d", table.Out, StringComparison.Ordinal);
        Assert.Contains("limit_time_cpu=600", table.Out, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(json.Out);
        var profile = doc.RootElement.GetProperty("profile");
        Assert.Equal("acme", profile.GetProperty("tls").GetString());
        Assert.Equal(5, profile.GetProperty("workers").GetInt32());
        Assert.Equal("600", profile.GetProperty("odooOptions").GetProperty("limit_time_cpu").GetString());
        var postgres = profile.GetProperty("postgres");
        Assert.Equal("remote", postgres.GetProperty("mode").GetString());
        Assert.Equal("db1.example.com", postgres.GetProperty("host").GetString());
        Assert.Equal(JsonValueKind.Null, postgres.GetProperty("port").ValueKind);
        Assert.False(postgres.TryGetProperty("password", out _));
        Assert.Equal(86400, profile.GetProperty("loginBanSeconds").GetInt32());
    }

    [Fact]
    public async Task Plan_Table_ExplanationThenChangedResourcesCountsAndDiffs()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Plan = Samples.Plan();

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01");

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Out.Split('\n');
        Assert.Equal("plan for web-01 (h-web01) at generation 6, computed by its agent (nothing was changed):", lines[0]);
        Assert.Equal("  workers = 5: min(2 x 2 cores + 1 = 5, RAM allows 6)", lines[1]);
        Assert.Equal("  limit_memory_hard = 2560 MiB", lines[2]);
        Assert.Contains(lines, l => l.Contains("file:/etc/odoo.conf", StringComparison.Ordinal) && l.Contains("would write /etc/odoo.conf", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("service:odoo.service", StringComparison.Ordinal) && l.Contains("change", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("user:odoo", StringComparison.Ordinal));
        Assert.Contains("2 resource(s) would change, 3 unchanged", result.Out, StringComparison.Ordinal);
        var diff = Array.IndexOf(lines, "--- file:/etc/odoo.conf");
        Assert.True(diff > 0, result.Out);
        Assert.Equal(["--- /etc/odoo.conf", "+++ /etc/odoo.conf (new)", "@@ -3 +3 @@", "-workers = 3", "+workers = 5"], lines[(diff + 1)..(diff + 6)]);
        Assert.Equal(["PlanHost web-01 timeout=0"], controller.Service.Calls);
    }

    [Fact]
    public async Task Plan_Json_EveryResourceWithStatusDetailAndCounts()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Plan = Samples.Plan();

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01", "-o", "json", "--timeout", "2m");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        var root = doc.RootElement;
        Assert.Equal("p-3kq9t2mzpa", root.GetProperty("requestId").GetString());
        Assert.Equal(6, root.GetProperty("generation").GetInt64());
        Assert.True(root.GetProperty("success").GetBoolean());
        Assert.Equal(2, root.GetProperty("changes").GetInt32());
        Assert.Equal(3, root.GetProperty("unchanged").GetInt32());
        Assert.Equal(0, root.GetProperty("failed").GetInt32());
        Assert.Equal(2, root.GetProperty("explanation").GetArrayLength());
        var resources = root.GetProperty("resources");
        Assert.Equal(5, resources.GetArrayLength());
        Assert.Equal("change", resources[1].GetProperty("status").GetString());
        Assert.StartsWith("--- /etc/odoo.conf\n", resources[1].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, resources[0].GetProperty("detail").ValueKind);
        Assert.Equal(["PlanHost web-01 timeout=120"], controller.Service.Calls);
    }

    [Fact]
    public async Task Plan_NothingWouldChange_SaysSoExit0()
    {
        await using var controller = await TestController.StartAsync();
        var plan = Samples.Plan();
        foreach (var resource in plan.Resources)
        {
            resource.Status = ResourceStatus.Unchanged;
            resource.Detail = "";
        }

        plan.Explanation.Clear();
        controller.Service.Plan = plan;

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(
            "plan for web-01 (h-web01) at generation 6, computed by its agent (nothing was changed):\nno changes: 5 resource(s) already as specified\n",
            result.Out);
    }

    [Fact]
    public async Task Plan_AgentCouldNotPlanEverything_Exit1WithItsError()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Plan = Samples.Plan(success: false);

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01");

        Assert.Equal(ExitCodes.Failed, result.ExitCode);
        Assert.Contains("1 resource(s) would change, 3 unchanged, 1 failed or skipped", result.Out, StringComparison.Ordinal);
        Assert.Equal("error: the agent on web-01 could not compute the whole plan: service:odoo.service: systemctl is-enabled failed\n", result.Err);
    }

    [Fact]
    public async Task Plan_HostDoesNotAnswer_Exit3SayingItMayBeOffline()
    {
        await using var controller = await TestController.StartAsync();
        const string Message = "host 'web-01' did not answer plan p-3kq9t2mzpa within 60 s (last heartbeat 300 s ago); it may be offline";
        controller.Service.PlanError = new RpcException(new Status(StatusCode.DeadlineExceeded, Message));

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01");

        Assert.Equal(ExitCodes.Timeout, result.ExitCode);
        Assert.StartsWith("error: host 'web-01' did not answer the plan request within 1m; it may be offline", result.Err, StringComparison.Ordinal);
        Assert.Contains("fleet host show web-01", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plan_UnknownHost_Exit5()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "nope");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Contains("host 'nope' not found", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plan_TimeoutOver10Minutes_Exit2BeforeAnyCall()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Plan = Samples.Plan();

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01", "--timeout", "11m");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--timeout: '11m' is longer than the maximum of 10m", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task Plan_AgentTextWithEscapeSequences_PrintedWithoutThem()
    {
        await using var controller = await TestController.StartAsync();
        var plan = Samples.Plan();
        plan.Explanation.Add("evil \u001b]0;pwned\u0007 line");
        plan.Resources[1].Detail = "+password = x\u001b[2J\n";
        controller.Service.Plan = plan;

        var result = await RunAsync("--controller", controller.Address, "host", "plan", "web-01");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain('\u001b', result.Out);
        Assert.DoesNotContain('\u0007', result.Out);
        Assert.Contains("evil ?]0;pwned? line", result.Out, StringComparison.Ordinal);
    }
}
