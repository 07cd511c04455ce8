using OdooFleet.Cli.Commands;
using OdooFleet.Cli.Tests.Support;

namespace OdooFleet.Cli.Tests;

public sealed class CommandLineTests
{
    private static readonly CliHost Host = new() { Out = TextWriter.Null, Err = TextWriter.Null, Environment = new Dictionary<string, string?>() };

    [Fact]
    public void Parse_RolloutStatusId_StatusCommandWithId()
    {
        var parse = FleetCommandLine.Build(Host).Parse(["rollout", "status", "r-abc123", "--watch"]);

        Assert.Empty(parse.Errors);
        Assert.Equal("status", parse.CommandResult.Command.Name);
        Assert.Equal("r-abc123", parse.GetValue<string>("id"));
        Assert.True(parse.GetValue<bool>("--watch"));
    }

    [Fact]
    public void Parse_RolloutVersion_RolloutCommandWithSeries()
    {
        var parse = FleetCommandLine.Build(Host).Parse(["rollout", "--version", "18.0", "--wait", "--timeout", "1h"]);

        Assert.Empty(parse.Errors);
        Assert.Equal("rollout", parse.CommandResult.Command.Name);
        Assert.Equal("18.0", parse.GetValue<string>("--version"));
        Assert.Equal(TimeSpan.FromHours(1), parse.GetValue<TimeSpan?>("--timeout"));
    }

    [Fact]
    public void Parse_ControllerAfterSubcommand_RecognisedEverywhere()
    {
        var parse = FleetCommandLine.Build(Host).Parse(["host", "show", "web-01", "--controller", "http://c:7001"]);

        Assert.Empty(parse.Errors);
        Assert.Equal("http://c:7001", parse.GetValue<string?>("--controller"));
    }

    [Fact]
    public async Task Help_Root_TeachesCommandsConfigurationAndExitCodes()
    {
        var result = await CliRun.RunAsync(["--help"]);

        Assert.Equal(0, result.ExitCode);
        foreach (var text in new[] { "token", "hosts", "rollout", "fleet host configure", "fleet host plan", "Examples:", "FLEET_CONTROLLER", "/etc/odoofleet/fleet.json", "Exit codes:", "4  controller unreachable", "5  not found" })
        {
            Assert.Contains(text, result.Out, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("token", "create")]
    [InlineData("hosts")]
    [InlineData("host", "show")]
    [InlineData("host", "configure")]
    [InlineData("host", "plan")]
    [InlineData("rollout")]
    [InlineData("rollout", "status")]
    public async Task Help_EveryCommand_HasDescriptionAndExamples(params string[] command)
    {
        var result = await CliRun.RunAsync([.. command, "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Description:", result.Out, StringComparison.Ordinal);
        Assert.Contains("Examples:" + Environment.NewLine + "  fleet " + command[0], result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_NoArguments_PrintsHelp()
    {
        var result = await CliRun.RunAsync([]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Exit codes:", result.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hosts", "-o", "xml")]
    [InlineData("frobnicate")]
    [InlineData("rollout", "--timeout", "1h", "--version")]
    [InlineData("token")]
    public async Task Run_BadUsage_Exit2WithPointerToHelp(params string[] args)
    {
        var result = await CliRun.RunAsync(args);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.StartsWith("error: ", result.Err, StringComparison.Ordinal);
        Assert.Contains("--help` for usage and examples", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RolloutWithoutVersion_Exit2Explaining()
    {
        var result = await CliRun.RunAsync(["rollout", "--controller", "http://127.0.0.1:1"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--version is required", result.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_TimeoutWithoutWait_Exit2()
    {
        var result = await CliRun.RunAsync(["rollout", "--version", "18.0", "--timeout", "1h", "--controller", "http://127.0.0.1:1"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("--timeout only applies with --wait", result.Err, StringComparison.Ordinal);
    }
}

/// <summary>Rollout option validation: refused while parsing or before any call, exit 2, the error names the option, the rule and an example.</summary>
public sealed class RolloutOptionTests
{
    [Theory]
    [InlineData("--health-timeout", "5", "--health-timeout: '5' is not a duration", "e.g. --health-timeout 1h")]
    [InlineData("--health-timeout", "1.5m", "--health-timeout: '1.5m' is not a duration", "e.g. --health-timeout 1h")]
    [InlineData("--health-timeout", "0s", "--health-timeout: '0s' must be longer than zero", "e.g. --health-timeout 1h")]
    [InlineData("--min-healthy", "31d", "--min-healthy: '31d' is longer than the maximum of 30d", "e.g. --min-healthy 1h")]
    [InlineData("--batch", "0", "--batch: '0' is out of range; the host count must be from 1 to 100000", "e.g. --batch 5 or --batch 25%")]
    [InlineData("--batch", "150%", "--batch: '150%' is out of range; the percentage must be from 1 to 100%", "e.g. --batch 5 or --batch 25%")]
    [InlineData("--batch", "a quarter", "--batch: 'a quarter' is not a host count or a percentage", "e.g. --batch 5 or --batch 25%")]
    [InlineData("--max-failures", "-1", "--max-failures: '-1' is not a host count or a percentage", "e.g. --max-failures 2 or --max-failures 10%")]
    [InlineData("--canary", "-2", "--canary: '-2' is not a whole number from 0 to 100000", "e.g. --canary 1")]
    [InlineData("--canary", "one", "--canary: 'one' is not a whole number from 0 to 100000", "e.g. --canary 1")]
    [InlineData("--offline", "later", "--offline: 'later' is not an offline policy; use skip or wait", "e.g. --offline wait")]
    [InlineData("--revision", "main", "--revision: 'main' is not a commit id; it must be 7 to 40 hex digits", "e.g. --revision 3f2a9c1d")]
    [InlineData("--revision", "3f2a9c", "--revision: '3f2a9c' is not a commit id", "e.g. --revision 3f2a9c1d")]
    [InlineData("--selector", "role", "--selector: 'role' is not KEY=VALUE", "e.g. --selector role=web")]
    [InlineData("--selector", "=web", "--selector: '=web' is not KEY=VALUE", "e.g. --selector role=web")]
    public async Task Rollout_BadOptionValue_Exit2NamingOptionRuleAndExample(string option, string value, string rule, string example)
    {
        var result = await CliRun.RunAsync(["rollout", "--version", "18.0", option, value, "--controller", "http://127.0.0.1:1"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: " + rule, result.Err, StringComparison.Ordinal);
        Assert.Contains(example, result.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot reach", result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--pause-after-canary" }, "--pause-after-canary needs a canary batch to pause after; add --canary N (e.g. --canary 1 --pause-after-canary)")]
    [InlineData(new[] { "--canary", "0", "--pause-after-canary" }, "--pause-after-canary needs a canary batch")]
    [InlineData(new[] { "--min-healthy", "5m" }, "--min-healthy: 5m must be shorter than the default --health-timeout (5m)")]
    [InlineData(new[] { "--min-healthy", "2m", "--health-timeout", "90s" }, "--min-healthy: 2m must be shorter than --health-timeout (1m30s), or no host can pass the health gate")]
    [InlineData(new[] { "--selector", "role=web", "--selector", "role=db" }, "--selector: 'role' is given more than once")]
    [InlineData(new[] { "--dry-run", "--wait" }, "--wait has nothing to follow with --dry-run")]
    [InlineData(new[] { "--timeout", "1h" }, "--timeout only applies with --wait")]
    public async Task Rollout_ConflictingOptions_Exit2BeforeAnyCall(string[] options, string message)
    {
        var result = await CliRun.RunAsync(["rollout", "--version", "18.0", .. options, "--controller", "http://127.0.0.1:1"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: " + message, result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--batch", "25%", "25%")]
    [InlineData("--batch", "3", "3")]
    [InlineData("--max-failures", "0", "0")]
    [InlineData("--max-failures", "10%", "10%")]
    public void Parse_Rate_Normalized(string option, string value, string expected)
    {
        var parse = FleetCommandLine.Build(new CliHost { Out = TextWriter.Null, Err = TextWriter.Null, Environment = new Dictionary<string, string?>() })
            .Parse(["rollout", "--version", "18.0", option, value]);

        Assert.Empty(parse.Errors);
        Assert.Equal(expected, parse.GetValue<string?>(option));
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    public void Parse_HealthTimeout_Duration(string value, int seconds)
    {
        var parse = FleetCommandLine.Build(new CliHost { Out = TextWriter.Null, Err = TextWriter.Null, Environment = new Dictionary<string, string?>() })
            .Parse(["rollout", "--version", "18.0", "--health-timeout", value]);

        Assert.Empty(parse.Errors);
        Assert.Equal(TimeSpan.FromSeconds(seconds), parse.GetValue<TimeSpan?>("--health-timeout"));
    }

    [Theory]
    [InlineData("rollouts", "--limit", "0", "--limit: '0' is not a whole number from 1 to 1000 (e.g. --limit 20)")]
    [InlineData("events", "--limit", "10001", "--limit: '10001' is not a whole number from 1 to 10000 (e.g. --limit 50)")]
    [InlineData("events", "--since", "yesterday", "--since: 'yesterday' is not a duration")]
    public async Task List_BadOption_Exit2(string command, string option, string value, string message)
    {
        var result = await CliRun.RunAsync([command, option, value, "--controller", "http://127.0.0.1:1"]);

        Assert.Equal(ExitCodes.Usage, result.ExitCode);
        Assert.Contains("error: " + message, result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("rollout", "pause")]
    [InlineData("rollout", "resume")]
    [InlineData("rollout", "abort")]
    [InlineData("rollout", "rollback")]
    [InlineData("rollouts")]
    [InlineData("events")]
    public async Task Help_NewCommands_DescriptionAndExamples(params string[] command)
    {
        var result = await CliRun.RunAsync([.. command, "--help"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Description:", result.Out, StringComparison.Ordinal);
        Assert.Contains("Examples:" + Environment.NewLine + "  fleet " + string.Join(' ', command), result.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_Rollout_TeachesEveryOptionAndTheHostSteps()
    {
        var result = await CliRun.RunAsync(["rollout", "--help"]);

        foreach (var text in new[]
        {
            "--revision", "--selector", "--canary", "--batch", "--max-failures", "--health-timeout", "--min-healthy", "--pause-after-canary",
            "--no-backup", "--offline", "--dry-run", "--wait", "N|P%", "skip|wait", "preflight -> backup", "status", "pause", "rollback",
        })
        {
            Assert.Contains(text, result.Out, StringComparison.Ordinal);
        }
    }
}
