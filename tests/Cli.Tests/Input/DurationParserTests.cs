using OdooFleet.Cli.Input;

namespace OdooFleet.Cli.Tests.Input;

public sealed class DurationParserTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("1h", 3600)]
    [InlineData("2d", 172800)]
    [InlineData("1h30m", 5400)]
    [InlineData(" 45m ", 2700)]
    [InlineData("30d", 2592000)]
    [InlineData("0h1s", 1)]
    public void TryParse_ValidDuration_ReturnsSeconds(string text, long seconds)
    {
        Assert.True(DurationParser.TryParse(text, "--ttl", out var duration, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), duration);
    }

    [Theory]
    [InlineData("", "is not a duration")]
    [InlineData("1", "is not a duration")]
    [InlineData("h", "is not a duration")]
    [InlineData("1w", "is not a duration")]
    [InlineData("-1h", "is not a duration")]
    [InlineData("1.5h", "is not a duration")]
    [InlineData("1H", "is not a duration")]
    [InlineData("0m", "longer than zero")]
    [InlineData("31d", "maximum of 30d")]
    [InlineData("720h1s", "maximum of 30d")]
    [InlineData("9999999d", "maximum of 30d")]
    public void TryParse_InvalidDuration_ErrorNamesOptionRuleAndExample(string text, string rule)
    {
        Assert.False(DurationParser.TryParse(text, "--ttl", out _, out var error));
        Assert.StartsWith("--ttl: ", error, StringComparison.Ordinal);
        Assert.Contains(rule, error, StringComparison.Ordinal);
        Assert.Contains("e.g. --ttl 1h", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5400, "1h30m")]
    [InlineData(1800, "30m")]
    [InlineData(90061, "1d1h1m1s")]
    [InlineData(0, "0s")]
    public void Format_Duration_ShortestSpelling(long seconds, string expected) =>
        Assert.Equal(expected, DurationParser.Format(TimeSpan.FromSeconds(seconds)));
}
