using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet tenant create|list|show` against a real in-process gRPC server.</summary>
public sealed class TenantCommandTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 8, 0, 0, TimeSpan.Zero);

    private static Task<CliResult> RunAsync(params string[] args) => CliRun.RunAsync(args, time: new FakeTimeProvider(Now));

    private static Tenant Tenant(string name) => new()
    {
        Id = "n-3kq9t2mzpa",
        Name = name,
        HostId = "h-web01",
        HostName = "web-01",
        Plan = "small",
        State = TenantState.Creating,
        Database = name,
        PrimaryDomain = $"{name}.erp.example.com",
        Aliases = { $"erp.{name}.com" },
        Modules = { "base" },
        Url = $"https://{name}.erp.example.com/",
        DatabaseBytes = -1,
        FilestoreBytes = 12 << 20,
        CreatedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-5)),
        UpdatedAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-5)),
    };

    private static PlacementVerdict Verdict(string host, bool fits, params string[] reasons) => new()
    {
        HostId = $"h-{host}",
        HostName = host,
        Fits = fits,
        Headroom = fits ? 0.875 : 0,
        Reasons = { reasons },
    };

    [Fact]
    public async Task Create_DryRun_SendsEverythingAndShowsEachHostsVerdict()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.TenantCreated = new CreateTenantResponse
        {
            ChosenHost = "web-01",
            Summary = "web-01: fits a small tenant",
            Placement = { Verdict("web-01", true, "fits: after placing, RAM 64/7168 MiB"), Verdict("web-02", false, "RAM: 7168 MiB reserved + 64 MiB > 7168 MiB") },
        };

        var result = await RunAsync(
            "--controller", controller.Address, "tenant", "create", "acme", "--domain", "acme.erp.example.com", "--domain", "erp.acme.com",
            "--selector", "region=eu", "--plan", "medium", "--modules", "sale_management, account", "--dry-run");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<CreateTenantRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(("acme", "medium", true, ""), (sent.Name, sent.Plan, sent.DryRun, sent.Host));
        Assert.Equal(["acme.erp.example.com", "erp.acme.com"], sent.Domains);
        Assert.Equal(["sale_management", "account"], sent.Modules);
        Assert.Equal("eu", sent.Selector["region"]);
        Assert.Contains("87.5 %", result.Out, StringComparison.Ordinal);
        Assert.Contains("RAM: 7168 MiB reserved", result.Out, StringComparison.Ordinal);
        Assert.Contains("dry run: nothing was created", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_Placed_SaysWhereAndTheUrl()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.TenantCreated = new CreateTenantResponse { Created = true, ChosenHost = "web-01", Generation = 7, Tenant = Tenant("acme"), Summary = "web-01: fits" };

        var result = await RunAsync("--controller", controller.Address, "tenant", "create", "acme", "--domain", "acme.erp.example.com", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.True(json.RootElement.GetProperty("created").GetBoolean());
        Assert.Equal(7, json.RootElement.GetProperty("generation").GetInt64());
        Assert.Equal("https://acme.erp.example.com/", json.RootElement.GetProperty("tenant").GetProperty("url").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("tenant").GetProperty("databaseBytes").ValueKind);
    }

    [Fact]
    public async Task Create_NoHostFits_ExitOneWithTheControllersReason()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "tenant", "create", "acme", "--domain", "acme.erp.example.com");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no host fits a small tenant", result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--modules", "sale,,account", "--modules: an empty module name")]
    [InlineData("--selector", "region", "--selector: 'region' is not KEY=VALUE")]
    public async Task Create_BadOption_UsageWithoutACall(string option, string value, string expected)
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "tenant", "create", "acme", "--domain", "acme.erp.example.com", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Requests);
    }

    [Fact]
    public async Task Create_WithoutDomain_Usage()
    {
        var result = await RunAsync("--controller", "http://127.0.0.1:1", "tenant", "create", "acme");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--domain", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_FiltersSentAndTableWithTruncationNote()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.AddRange([Tenant("acme"), Tenant("beta")]);

        var result = await RunAsync("--controller", controller.Address, "tenant", "list", "--host", "web-01", "--state", "creating", "--search", "ac", "--limit", "1");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<ListTenantsRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(("web-01", TenantState.Creating, "ac", 1), (sent.Host, sent.State, sent.Search, sent.Limit));
        Assert.Contains("acme.erp.example.com", result.Out, StringComparison.Ordinal);
        Assert.DoesNotContain("beta", result.Out, StringComparison.Ordinal);
        Assert.Contains("more tenants match", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_Json_TenantsAndTruncated()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Tenant("acme"));

        var result = await RunAsync("--controller", controller.Address, "tenant", "list", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.Out);
        Assert.False(json.RootElement.GetProperty("truncated").GetBoolean());
        Assert.Equal("creating", json.RootElement.GetProperty("tenants")[0].GetProperty("state").GetString());
    }

    [Fact]
    public async Task List_BadState_UsageWithoutACall()
    {
        var result = await RunAsync("--controller", "http://127.0.0.1:1", "tenant", "list", "--state", "gone");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--state: 'gone' is not a tenant state", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_Tenant_DetailsAndMissingIsExitFive()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Tenant("acme"));

        var shown = await RunAsync("--controller", controller.Address, "tenant", "show", "acme");
        var missing = await RunAsync("--controller", controller.Address, "tenant", "show", "nope");

        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("erp.acme.com (redirects)", shown.Out, StringComparison.Ordinal);
        Assert.Contains("not reported yet", shown.Out, StringComparison.Ordinal);
        Assert.Contains("12.0 MiB", shown.Out, StringComparison.Ordinal);
        Assert.Contains("none yet", shown.Out, StringComparison.Ordinal);
        Assert.Equal(5, missing.ExitCode);
    }

    [Fact]
    public async Task Show_SizesMeasured_SaysHowOldTheyAreAndJsonHasThemWithoutABackup()
    {
        await using var controller = await TestController.StartAsync();
        var tenant = Tenant("acme");
        tenant.DatabaseBytes = 24L << 20;
        tenant.SizesMeasuredAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(-4));
        controller.Service.Tenants.Add(tenant);

        var shown = await RunAsync("--controller", controller.Address, "tenant", "show", "acme");
        var json = await RunAsync("--controller", controller.Address, "tenant", "show", "acme", "-o", "json");

        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("24.0 MiB (measured 4m ago)", shown.Out, StringComparison.Ordinal);
        Assert.Contains("12.0 MiB (measured 4m ago)", shown.Out, StringComparison.Ordinal);
        Assert.Matches(@"last backup:\s+none yet", shown.Out);
        using var parsed = JsonDocument.Parse(json.Out);
        Assert.Equal(24L << 20, parsed.RootElement.GetProperty("databaseBytes").GetInt64());
        Assert.Equal("2026-12-05T07:56:00Z", parsed.RootElement.GetProperty("sizesMeasuredAt").GetString());
        Assert.Equal(JsonValueKind.Null, parsed.RootElement.GetProperty("lastBackupAt").ValueKind);
    }

    [Fact]
    public async Task Create_LangAndCountry_SentAndShown()
    {
        await using var controller = await TestController.StartAsync();
        var tenant = Tenant("acme");
        tenant.Lang = "sr@latin";
        tenant.Country = "RS";
        controller.Service.TenantCreated = new CreateTenantResponse { Created = true, ChosenHost = "web-01", Generation = 7, Tenant = tenant, Summary = "web-01: fits" };
        controller.Service.Tenants.Add(tenant);

        var created = await RunAsync("--controller", controller.Address, "tenant", "create", "acme", "--domain", "acme.erp.example.com", "--lang", "sr@latin", "--country", "RS");
        var shown = await RunAsync("--controller", controller.Address, "tenant", "show", "acme");
        var json = await RunAsync("--controller", controller.Address, "tenant", "show", "acme", "-o", "json");

        Assert.True(created.ExitCode == 0, created.ToString());
        var sent = Assert.Single(controller.Service.Requests.OfType<CreateTenantRequest>());
        Assert.Equal(("sr@latin", "RS"), (sent.Lang, sent.Country));
        Assert.Matches(@"language:\s+sr@latin", shown.Out);
        Assert.Matches(@"country:\s+RS", shown.Out);
        using var parsed = JsonDocument.Parse(json.Out);
        Assert.Equal("RS", parsed.RootElement.GetProperty("country").GetString());
    }

    [Theory]
    [InlineData("--lang", "fr-FR", "--lang: 'fr-FR' is not an Odoo language code")]
    [InlineData("--lang", "french", "--lang: 'french' is not an Odoo language code")]
    [InlineData("--country", "fr", "--country: write the code in capitals: --country FR")]
    [InlineData("--country", "FRA", "--country: 'FRA' is not an ISO 3166-1 alpha-2 country code")]
    public async Task Create_BadLangOrCountry_UsageErrorAndNothingSent(string option, string value, string expected)
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "tenant", "create", "acme", "--domain", "acme.erp.example.com", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Requests);
    }

    [Fact]
    public async Task Help_Create_TeachesWithExamples()
    {
        var result = await RunAsync("tenant", "create", "--help");
        Assert.Contains("fleet tenant create acme --domain acme.erp.example.com --dry-run", result.Out, StringComparison.Ordinal);
        Assert.Contains("dbfilter ^%d$", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Suspend_ActiveTenant_SentAndSaysThePendingStateThenAgainIsANoOp()
    {
        await using var controller = await TestController.StartAsync();
        var acme = Tenant("acme");
        acme.State = TenantState.Active;
        controller.Service.Tenants.Add(acme);

        var first = await RunAsync("--controller", controller.Address, "tenant", "suspend", "acme");
        var again = await RunAsync("--controller", controller.Address, "tenant", "suspend", "acme", "-o", "json");

        Assert.True(first.ExitCode == 0, first.ToString());
        var sent = Assert.IsType<TenantActionRequest>(controller.Service.Requests[0]);
        Assert.Equal(("acme", false), (sent.Name, sent.Confirm));
        Assert.Contains("acme: SuspendTenant on web-01", first.Out, StringComparison.Ordinal);
        Assert.Contains("state: active -> suspended (waits for its host to converge)", first.Out, StringComparison.Ordinal);
        Assert.True(again.ExitCode == 0, again.ToString());
        using var json = JsonDocument.Parse(again.Out);
        Assert.Equal("suspend", json.RootElement.GetProperty("action").GetString());
        Assert.False(json.RootElement.GetProperty("changed").GetBoolean());
        Assert.Contains("nothing changed", json.RootElement.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal("active", json.RootElement.GetProperty("tenant").GetProperty("state").GetString());
        Assert.Equal("suspended", json.RootElement.GetProperty("tenant").GetProperty("pendingState").GetString());
    }

    [Fact]
    public async Task Resume_SuspendedTenant_SentToResume()
    {
        await using var controller = await TestController.StartAsync();
        var acme = Tenant("acme");
        acme.State = TenantState.Suspended;
        controller.Service.Tenants.Add(acme);

        var result = await RunAsync("--controller", controller.Address, "tenant", "resume", "acme");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ResumeTenant", controller.Service.Calls);
        Assert.Contains("state: suspended -> active", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_WithoutYes_UsageNamingTheFlagAndNoCall()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Tenant("acme"));

        var result = await RunAsync("--controller", controller.Address, "tenant", "delete", "acme");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--yes", result.Err, StringComparison.Ordinal);
        Assert.Contains("fleet tenant delete acme --yes", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Requests);
        Assert.Equal(TenantState.Creating, controller.Service.Tenants[0].State);
    }

    [Fact]
    public async Task Delete_WithYes_ConfirmedAndDeletingInJson()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Tenants.Add(Tenant("acme"));

        var result = await RunAsync("--controller", controller.Address, "tenant", "delete", "acme", "--yes", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<TenantActionRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(("acme", true), (sent.Name, sent.Confirm));
        using var json = JsonDocument.Parse(result.Out);
        Assert.True(json.RootElement.GetProperty("changed").GetBoolean());
        Assert.Equal(9, json.RootElement.GetProperty("generation").GetInt64());
        Assert.Equal("deleting", json.RootElement.GetProperty("tenant").GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("tenant").GetProperty("pendingState").ValueKind);
    }

    [Theory]
    [InlineData("suspend", "Acme")]
    [InlineData("resume", "acme_corp")]
    [InlineData("delete", "-acme")]
    public async Task StateChange_BadName_UsageNamingTheFieldWithoutACall(string verb, string name)
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync(["--controller", controller.Address, "tenant", verb, .. verb == "delete" ? (string[])["--yes"] : [], "--", name]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("name: ", result.Err, StringComparison.Ordinal);
        Assert.Contains("lowercase letters, digits and inner hyphens", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Requests);
    }

    [Fact]
    public async Task StateChange_UnknownTenant_ExitFive()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "tenant", "suspend", "nope");

        Assert.Equal(5, result.ExitCode);
        Assert.Contains("tenant 'nope' not found", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_PendingSuspension_StateSaysWhereItGoes()
    {
        await using var controller = await TestController.StartAsync();
        var acme = Tenant("acme");
        acme.State = TenantState.Active;
        acme.PendingState = TenantState.Suspended;
        controller.Service.Tenants.Add(acme);

        var result = await RunAsync("--controller", controller.Address, "tenant", "show", "acme");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("active -> suspended (waits for its host to converge)", result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("suspend", "Retry-After: 3600")]
    [InlineData("resume", "proxies to Odoo again")]
    [InlineData("delete", "pg_dump -Fc of the database")]
    public async Task Help_StateChanges_TeachWithExamples(string verb, string expected)
    {
        var result = await RunAsync("tenant", verb, "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"fleet tenant {verb} acme", result.Out, StringComparison.Ordinal);
        Assert.Contains(expected, result.Out, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clone_Neutralize_SendsEverythingAndSaysWhatTheCopyIs()
    {
        await using var controller = await TestController.StartAsync();
        var copy = Tenant("acme-staging");
        copy.CloneOf = "acme";
        copy.Neutralized = true;
        controller.Service.TenantCloned = new CreateTenantResponse { Created = true, ChosenHost = "web-01", Generation = 8, Tenant = copy, Summary = "clone of acme on web-01, neutralized" };

        var result = await RunAsync(
            "--controller", controller.Address, "tenant", "clone", "acme", "--as", "acme-staging", "--domain", "acme-staging.erp.example.com",
            "--domain", "staging.acme.com", "--neutralize");
        var json = await RunAsync("--controller", controller.Address, "tenant", "clone", "acme", "--as", "acme-staging", "--domain", "acme-staging.erp.example.com", "--neutralize", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<CloneTenantRequest>(controller.Service.Requests[0]);
        Assert.Equal(("acme", "acme-staging", true, false, "", ""), (sent.Source, sent.Name, sent.Neutralize, sent.DryRun, sent.Host, sent.Plan));
        Assert.Equal(["acme-staging.erp.example.com", "staging.acme.com"], sent.Domains);
        Assert.Contains("acme-staging: clone of acme on web-01 (small); desired generation 8", result.Out, StringComparison.Ordinal);
        Assert.Contains("clone: of acme, neutralized (outgoing mail, crons and payment providers disabled)", result.Out, StringComparison.Ordinal);
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Out);
        var tenant = doc.RootElement.GetProperty("tenant");
        Assert.Equal(("acme", true), (tenant.GetProperty("cloneOf").GetString(), tenant.GetProperty("neutralized").GetBoolean()));
    }

    [Fact]
    public async Task Clone_DryRunWithoutNeutralize_SentAsSuchAndNothingCloned()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.TenantCloned = new CreateTenantResponse { ChosenHost = "web-01", Summary = "web-01: fits", Placement = { Verdict("web-01", true, "fits") } };

        var result = await RunAsync("--controller", controller.Address, "tenant", "clone", "acme", "--as", "acme-copy", "--domain", "acme-copy.example.com", "--dry-run");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<CloneTenantRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal((false, true), (sent.Neutralize, sent.DryRun));
        Assert.Contains("dry run: nothing was cloned", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Clone_MissingAsOrUnknownSource_UsageErrorOrNotFound()
    {
        await using var controller = await TestController.StartAsync();

        var noAs = await RunAsync("--controller", controller.Address, "tenant", "clone", "acme", "--domain", "acme-copy.example.com");
        var badSource = await RunAsync("--controller", controller.Address, "tenant", "clone", "Acme;", "--as", "x", "--domain", "x.example.com");
        var unknown = await RunAsync("--controller", controller.Address, "tenant", "clone", "nope", "--as", "nope-copy", "--domain", "nope-copy.example.com");

        Assert.Equal(2, noAs.ExitCode);
        Assert.Contains("--as", noAs.Err, StringComparison.Ordinal);
        Assert.Equal(2, badSource.ExitCode);
        Assert.Contains("name: ", badSource.Err, StringComparison.Ordinal);
        Assert.Equal(5, unknown.ExitCode);
        Assert.Contains("source: tenant 'nope' not found", unknown.Err, StringComparison.Ordinal);
        Assert.Single(controller.Service.Requests);
    }

    [Fact]
    public async Task Help_Clone_TeachesAndWarnsThatWithoutNeutralizeTheCopySendsRealMail()
    {
        var result = await RunAsync("tenant", "clone", "--help");

        Assert.Contains("fleet tenant clone acme --as acme-staging --domain acme-staging.erp.example.com --neutralize", result.Out, StringComparison.Ordinal);
        Assert.Contains("WITHOUT --neutralize THE COPY SENDS REAL MAIL, RUNS REAL", result.Out, StringComparison.Ordinal);
        Assert.Contains("Exit codes:", result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_Clone_SaysItsSourceAndNeutralized()
    {
        await using var controller = await TestController.StartAsync();
        var copy = Tenant("acme-staging");
        copy.CloneOf = "acme";
        controller.Service.Tenants.Add(copy);

        var shown = await RunAsync("--controller", controller.Address, "tenant", "show", "acme-staging");

        Assert.True(shown.ExitCode == 0, shown.ToString());
        Assert.Contains("of acme, NOT neutralized (sends mail and runs crons like the source)", shown.Out, StringComparison.Ordinal);
    }
}
