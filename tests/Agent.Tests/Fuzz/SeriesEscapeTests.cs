using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>A series the fuzz tests found getting through (\d matched any Unicode digit), kept after the fix.</summary>
public sealed class SeriesEscapeTests
{
    [Theory]
    [InlineData("120.\u0967")] // Devanagari seven
    [InlineData("\u0661\u0668.\u0660")] // Arabic-Indic 18.0
    [InlineData("\uff11\uff18.0")] // full-width 18
    public void IsSeries_NonAsciiDigits_Refused(string series)
    {
        Assert.False(SpecValidator.IsSeries(series));
        Assert.StartsWith("odoo.release.series: ", SpecValidator.CheckSeries(series), StringComparison.Ordinal);
    }
}
