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
