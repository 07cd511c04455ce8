using Npgsql;
using OdooFleet.Controller.Persistence;
using Xunit;

namespace OdooFleet.Controller.Tests.Persistence;

public sealed class DatabasePoolTests
{
    private const string Base = "Host=127.0.0.1;Username=odoofleet;Password=secret;Database=odoofleet";

    [Fact]
    public void Parse_Absent_IsTheDefault() => Assert.Equal((DatabasePool.DefaultMaxPoolSize, (string?)null), DatabasePool.Parse(null));

    [Fact]
    public void Parse_AWholeNumberInRange_IsTaken() => Assert.Equal((30, (string?)null), DatabasePool.Parse("30"));

    [Theory]
    [InlineData("1")]
    [InlineData("1001")]
    [InlineData("-5")]
    [InlineData("forty")]
    [InlineData("4.5")]
    public void Parse_Invalid_NamesTheSettingAndTheRange(string raw)
    {
        var (_, error) = DatabasePool.Parse(raw);
        Assert.NotNull(error);
        Assert.Contains("Database:MaxPoolSize", error, StringComparison.Ordinal);
        Assert.Contains("2 to 1000", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Apply_NoPoolSizeInTheConnectionString_SetsIt() =>
        Assert.Equal(25, new NpgsqlConnectionStringBuilder(DatabasePool.Apply(Base, 25)).MaxPoolSize);

    [Theory]
    [InlineData("Maximum Pool Size=7")]
    [InlineData("MaxPoolSize=7")]
    public void Apply_ExplicitPoolSizeInTheConnectionString_Wins(string setting) =>
        Assert.Equal(7, new NpgsqlConnectionStringBuilder(DatabasePool.Apply($"{Base};{setting}", 25)).MaxPoolSize);
}
