using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet token`, `fleet apitoken`, `fleet audit`, `fleet whoami` and `fleet host remove` against a real in-process gRPC server.</summary>
public sealed class AccessCommandsTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static Task<CliResult> RunAsync(params string[] args) => CliRun.RunAsync(args, time: new FakeTimeProvider(Now));

    [Fact]
    public async Task TokenCreate_NameAndLabels_SentAndEnrollLinePinsTheCa()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync(
            "--controller", controller.Address, "token", "create", "--ttl", "30m", "--name", "web-01", "--label", "role=web", "--label", "example.com/tier=gold");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<CreateEnrollmentTokenRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(("web-01", 1800L), (sent.HostName, sent.TtlSeconds));
        Assert.Equal("web", sent.Labels["role"]);
        Assert.Equal("gold", sent.Labels["example.com/tier"]);
        var ca = new string('a', 64);
        Assert.Contains("id:        t-3kq9t2mzpa", result.Out, StringComparison.Ordinal);
        Assert.Contains($"ca_sha256: {ca}", result.Out, StringComparison.Ordinal);
        Assert.Contains("labels:    example.com/tier=gold,role=web", result.Out, StringComparison.Ordinal);
        Assert.Contains(
            $"  odoofleet-agent enroll --controller {controller.Address} --token oft_canned-token --ca-sha256 {ca}\n", result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("role")]
    [InlineData("=web")]
    public async Task TokenCreate_LabelNotKeyValue_Exit2BeforeAnyCall(string label)
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "token", "create", "--label", label);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains($"--label: '{label}' is not KEY=VALUE (e.g. --label role=web)", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task TokenList_AllJson_StatesAndNeverATokenValue()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.EnrollmentTokens.AddRange([
            new EnrollmentToken { Id = "t-pending001", ExpiresAt = At(Now.AddHours(1)), HostName = "web-02", Labels = { ["role"] = "web" } },
            new EnrollmentToken { Id = "t-used000001", ExpiresAt = At(Now.AddHours(1)), UsedAt = At(Now), UsedByHost = "h-web01" },
            new EnrollmentToken { Id = "t-expired001", ExpiresAt = At(Now.AddHours(-1)) },
        ]);

        var result = await RunAsync("--controller", controller.Address, "token", "list", "--all", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["ListEnrollmentTokens all=True"], controller.Service.Calls);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(["pending", "used", "expired"], doc.RootElement.EnumerateArray().Select(t => t.GetProperty("state").GetString()));
        Assert.Equal("web", doc.RootElement[0].GetProperty("labels").GetProperty("role").GetString());
        Assert.Equal("h-web01", doc.RootElement[1].GetProperty("usedByHost").GetString());
        Assert.All(doc.RootElement.EnumerateArray(), t => Assert.False(t.TryGetProperty("token", out _)));
    }

    [Fact]
    public async Task TokenRevoke_UnknownId_Exit5WithTheControllersHint()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "token", "revoke", "t-nope000000");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Equal("error: enrollment token 't-nope000000' not found; list them with `fleet token list --all`\n", result.Err);
    }

    [Fact]
    public async Task ApiTokenCreate_Json_TokenShownOnceWithRole()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "apitoken", "create", "--name", "ci", "--role", "operator", "--ttl", "30d", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(["CreateApiToken ci Operator ttl=2592000"], controller.Service.Calls);
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("ofk_canned-api-token", doc.RootElement.GetProperty("token").GetString());
        Assert.Equal("operator", doc.RootElement.GetProperty("role").GetString());
        Assert.Equal("active", doc.RootElement.GetProperty("state").GetString());
    }

    [Fact]
    public async Task ApiTokenCreate_UnknownRole_Exit2NamingTheRoles()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "apitoken", "create", "--name", "ci", "--role", "root");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--role: 'root' is not a role; use viewer, operator or admin", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task ApiTokenList_Table_NamesRolesAndStates()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.ApiTokens.AddRange([
            new ApiToken { Id = "k-alice00001", Name = "alice", Role = Role.Admin, CreatedAt = At(Now), LastUsedAt = At(Now.AddMinutes(-5)) },
            new ApiToken { Id = "k-ci00000001", Name = "ci", Role = Role.Viewer, CreatedAt = At(Now), RevokedAt = At(Now) },
        ]);

        var result = await RunAsync("--controller", controller.Address, "apitoken", "list");

        Assert.True(result.ExitCode == 0, result.ToString());
        var alice = result.Out.Split('\n').Single(l => l.Contains("k-alice00001", StringComparison.Ordinal));
        Assert.Matches(@"alice\s+admin\s+active\s+never\s+5m ago", alice);
        Assert.Matches(@"ci\s+viewer\s+revoked", result.Out);
    }

    [Fact]
    public async Task ApiTokenRevoke_ByName_RevokedLine()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.ApiTokens.Add(new ApiToken { Id = "k-alice00001", Name = "alice", Role = Role.Operator });

        var result = await RunAsync("--controller", controller.Address, "apitoken", "revoke", "alice");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("k-alice00001 (alice, operator): revoked at 2025-06-01T12:30:00Z\n", result.Out);
    }

    [Fact]
    public async Task Audit_SinceDurationActorLimit_SentAndTabled()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.AuditEntries.Add(new AuditEntry
        {
            Id = 7, At = At(Now.AddMinutes(-3)), Actor = "token:eve (k-eve0000001)", Role = Role.Viewer, Action = "StartRollout",
            Target = "18.0", Result = "denied: StartRollout needs role operator; token 'eve' has viewer", Address = "10.0.0.9",
        });

        var result = await RunAsync("--controller", controller.Address, "audit", "--since", "2h", "--actor", "bootstrap", "--limit", "50");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<ListAuditRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal((Now.AddHours(-2), 50, "bootstrap"), (sent.Since.ToDateTimeOffset(), sent.Limit, sent.Actor));
        Assert.Matches(@"TIME\s+ACTOR\s+ROLE\s+ACTION\s+TARGET\s+RESULT", result.Out);
        Assert.Matches(@"2025-06-01T11:57:00Z\s+token:eve \(k-eve0000001\)\s+viewer\s+StartRollout\s+18\.0\s+denied: StartRollout needs role operator", result.Out);
    }

    [Fact]
    public async Task Audit_SinceTimeJson_SentAsThatTime()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.AuditEntries.Add(new AuditEntry { Id = 1, At = At(Now), Actor = "bootstrap", Role = Role.Admin, Action = "CreateApiToken", Result = "ok", Detail = "{\"name\": \"ci\"}" });

        var result = await RunAsync("--controller", controller.Address, "audit", "--since", "2025-05-30T00:00:00Z", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<ListAuditRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(new DateTimeOffset(2025, 5, 30, 0, 0, 0, TimeSpan.Zero), sent.Since.ToDateTimeOffset());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal(("bootstrap", "admin", "ok"), (doc.RootElement[0].GetProperty("actor").GetString(), doc.RootElement[0].GetProperty("role").GetString(), doc.RootElement[0].GetProperty("result").GetString()));
    }

    [Theory]
    [InlineData("--since", "yesterday", "--since: 'yesterday' is not a duration")]
    [InlineData("--limit", "0", "--limit: '0' is not a number from 1 to 10000")]
    [InlineData("--limit", "10001", "--limit: '10001' is not a number from 1 to 10000")]
    public async Task Audit_BadOption_Exit2BeforeAnyCall(string option, string value, string message)
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "audit", option, value);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains(message, result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
    }

    [Fact]
    public async Task Audit_ViewerToken_PermissionDeniedExit5WithTheFix()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Refusal = new RpcException(new Status(StatusCode.PermissionDenied,
            "ListAudit needs role admin; token 'eve' has viewer; ask an admin for a token with `fleet apitoken create --role admin`"));

        var result = await RunAsync("--controller", controller.Address, "audit");

        Assert.Equal(ExitCodes.NotFoundOrDenied, result.ExitCode);
        Assert.Equal("error: ListAudit needs role admin; token 'eve' has viewer; ask an admin for a token with `fleet apitoken create --role admin`\n", result.Err);
    }

    [Fact]
    public async Task WhoAmI_Json_ActorRoleAndTokenId()
    {
        await using var controller = await TestController.StartAsync();

        var result = await RunAsync("--controller", controller.Address, "whoami", "-o", "json");

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        Assert.Equal("token:alice (k-3kq9t2mzpa)", doc.RootElement.GetProperty("actor").GetString());
        Assert.Equal("operator", doc.RootElement.GetProperty("role").GetString());
        Assert.Equal("k-3kq9t2mzpa", doc.RootElement.GetProperty("tokenId").GetString());
    }

    [Fact]
    public async Task HostRemove_WithoutYes_Exit2ExplainingWhatRemovalDoesAndNoCall()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var result = await RunAsync("--controller", controller.Address, "host", "remove", "web-01");

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("removing 'web-01' needs --yes", result.Err, StringComparison.Ordinal);
        Assert.Contains("certificate and broker user stop working at once", result.Err, StringComparison.Ordinal);
        Assert.Contains("must be re-enrolled", result.Err, StringComparison.Ordinal);
        Assert.Empty(controller.Service.Calls);
        Assert.Single(controller.Service.Hosts);
    }

    [Fact]
    public async Task HostRemove_WithYes_RemovedAndSecondTimeAlreadyGone()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Hosts.Add(Samples.OnlineHost());

        var first = await RunAsync("--controller", controller.Address, "host", "remove", "web-01", "--yes");
        var second = await RunAsync("--controller", controller.Address, "host", "remove", "web-01", "--yes", "-o", "json");

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.StartsWith("web-01 (h-web01) removed: its certificate and broker user no longer work", first.Out, StringComparison.Ordinal);
        Assert.True(second.ExitCode == 0, second.ToString());
        using var doc = JsonDocument.Parse(second.Out);
        Assert.False(doc.RootElement.GetProperty("removed").GetBoolean());
    }

    [Theory]
    [InlineData("token", "create", "fleet token create --ttl 30m --name web-01 --label role=web")]
    [InlineData("token", "list", "fleet token list --all -o json")]
    [InlineData("apitoken", "create", "fleet apitoken create --name alice --role operator")]
    [InlineData("host", "remove", "fleet host remove web-01 --yes")]
    public async Task Help_NewCommands_ShowExamples(string group, string command, string example)
    {
        var result = await RunAsync(group, command, "--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Examples:", result.Out, StringComparison.Ordinal);
        Assert.Contains(example, result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_Root_ListsTheAccessCommands()
    {
        var result = await RunAsync("--help");

        foreach (var text in new[] { "apitoken", "audit", "whoami", "fleet host remove web-01 --yes", "fleet apitoken create --name alice --role operator" })
        {
            Assert.Contains(text, result.Out, StringComparison.Ordinal);
        }
    }

    private static Timestamp At(DateTimeOffset time) => Timestamp.FromDateTimeOffset(time);
}
