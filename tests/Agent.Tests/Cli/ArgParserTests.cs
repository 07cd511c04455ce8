using OdooFleet.Agent.Cli;

namespace OdooFleet.Agent.Tests.Cli;

public sealed class ArgParserTests
{
    private static ParsedArgs Parse(params string[] args) => ArgParser.Parse(args, AgentCli.Commands);

    [Fact]
    public void Parse_EnrollWithRepeatedControllers_KeepsOrder()
    {
        var parsed = Parse("enroll", "--controller", "https://a:5001", "--controller=https://b:5001", "--token", "t", "--force");
        Assert.Equal("enroll", parsed.Command);
        Assert.Equal(["https://a:5001", "https://b:5001"], parsed.Values("controller"));
        Assert.Equal("t", parsed.Value("token"));
        Assert.True(parsed.Flag("force"));
    }

    [Theory]
    [InlineData(new[] { "deploy" }, "unknown command 'deploy'")]
    [InlineData(new[] { "run", "--conf", "x" }, "unknown option --conf; valid: --config")]
    [InlineData(new[] { "enroll", "--token" }, "--token needs a value")]
    [InlineData(new[] { "enroll", "--token", "a", "--token", "b" }, "--token given twice")]
    [InlineData(new[] { "enroll", "--force=yes" }, "--force is a flag")]
    [InlineData(new[] { "run", "extra" }, "unexpected argument 'extra'")]
    public void Parse_BadArguments_ThrowsClearUsageError(string[] args, string expected)
    {
        var e = Assert.Throws<UsageException>(() => Parse(args));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_HelpAfterCommand_SetsHelp() => Assert.True(Parse("converge", "--help").Help);

    [Fact]
    public void Parse_NoArguments_IsHelp() => Assert.True(Parse().Help);

    [Theory]
    [InlineData("https://fleet.example.com:5001")]
    [InlineData("http://10.0.0.1:5000")]
    [InlineData("https://fleet.example.com")]
    public void ControllerUrlCheck_Valid_ReturnsNull(string url) => Assert.Null(ControllerUrl.Check(url));

    [Theory]
    [InlineData("fleet.example.com:5001", "scheme must be http or https")]
    [InlineData("ftp://fleet.example.com", "scheme must be http or https")]
    [InlineData("https://fleet.example.com:99999", "not an absolute URL")]
    [InlineData("https://user:pw@fleet.example.com", "must not contain credentials")]
    [InlineData("nonsense", "not an absolute URL")]
    public void ControllerUrlCheck_Invalid_SaysWhatIsWrong(string url, string expected)
    {
        var error = ControllerUrl.Check(url);
        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
