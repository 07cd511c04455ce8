using OdooFleet.Cli.Input;

namespace OdooFleet.Cli.Tests.Input;

public sealed class SeriesValidatorTests
{
    [Theory]
    [InlineData("18.0")]
    [InlineData("17.0")]
    [InlineData("9.0")]
    [InlineData("100.1")]
    public void TryValidate_Series_Accepted(string series) =>
        Assert.True(SeriesValidator.TryValidate(series, "--version", out _));

    [Theory]
    [InlineData("99")]
    [InlineData("18")]
    [InlineData("18.")]
    [InlineData("18.00")]
    [InlineData("1000.0")]
    [InlineData("saas-18.1")]
    [InlineData("eighteen")]
    [InlineData(" 18.0")]
    [InlineData("18.0\n")]
    [InlineData("١٨.٠")]
    [InlineData("")]
    [InlineData(null)]
    public void TryValidate_NotASeries_ErrorNamesOptionRuleAndExample(string? series)
    {
        Assert.False(SeriesValidator.TryValidate(series, "--version", out var error));
        Assert.StartsWith("--version: ", error, StringComparison.Ordinal);
        Assert.Contains("1-3 digits, a dot and one digit", error, StringComparison.Ordinal);
        Assert.Contains("e.g. --version 18.0", error, StringComparison.Ordinal);
    }
}
