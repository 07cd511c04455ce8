using OdooFleet.Cli.Input;

namespace OdooFleet.Cli.Tests.Input;

public sealed class RateParserTests
{
    [Theory]
    [InlineData("5", 1, "5")]
    [InlineData("25%", 1, "25%")]
    [InlineData(" 100% ", 1, "100%")]
    [InlineData("007", 1, "7")]
    [InlineData("0", 0, "0")]
    [InlineData("0%", 0, "0%")]
    [InlineData("100000", 1, "100000")]
    public void TryParse_CountOrPercentage_Normalized(string text, int minimum, string expected)
    {
        Assert.True(RateParser.TryParse(text, "--batch", minimum, out var normalized, out var error), error);
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("", 1, "is not a host count or a percentage")]
    [InlineData("%", 1, "is not a host count or a percentage")]
    [InlineData("1.5", 1, "is not a host count or a percentage")]
    [InlineData("-1", 0, "is not a host count or a percentage")]
    [InlineData("10 %", 1, "is not a host count or a percentage")]
    [InlineData("ten", 1, "is not a host count or a percentage")]
    [InlineData("5%%", 1, "is not a host count or a percentage")]
    [InlineData("1234567", 1, "is not a host count or a percentage")]
    [InlineData("0", 1, "the host count must be from 1 to 100000")]
    [InlineData("0%", 1, "the percentage must be from 1 to 100%")]
    [InlineData("101%", 0, "the percentage must be from 0 to 100%")]
    [InlineData("100001", 0, "the host count must be from 0 to 100000")]
    public void TryParse_Invalid_ErrorNamesOptionRuleAndExample(string text, int minimum, string rule)
    {
        Assert.False(RateParser.TryParse(text, "--max-failures", minimum, out _, out var error));
        Assert.StartsWith("--max-failures: ", error, StringComparison.Ordinal);
        Assert.Contains(rule, error, StringComparison.Ordinal);
        Assert.Contains("(e.g. --max-failures ", error, StringComparison.Ordinal);
    }
}
