using OdooFleet.Controller.Domain;
using Xunit;

namespace OdooFleet.Controller.Tests.Fuzz;

/// <summary>A series the fuzz tests found getting through (\d matched any Unicode digit), kept after the fix.</summary>
public sealed class SeriesEscapeTests
{
    [Theory]
    [InlineData("120.\u0967")] // Devanagari seven
    [InlineData("\u0661\u0668.\u0660")] // Arabic-Indic 18.0
    public void IsSeries_NonAsciiDigits_Refused(string series) => Assert.False(Validation.IsSeries(series));
}
