using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// U+2028/U+2029 got through as "single-line" values and into echoed errors (found by the fuzz
/// tests): Python's configparser keeps them in a value, but splitlines(), editors and terminals
/// break the line there, so another reader of odoo.conf saw an injected "list_db = True".
/// </summary>
public sealed class LineSeparatorEscapeTests
{
    [Theory]
    [InlineData("T8Ru\u2028list_db = True")]
    [InlineData("x\u2029[options]")]
    public void IsSingleLine_UnicodeLineSeparator_Refused(string value) => Assert.False(Grammar.IsSingleLine(value));

    [Fact]
    public void Printable_UnicodeLineSeparator_Replaced() =>
        Assert.Equal("a?b?c", Grammar.Printable("a\u2028b\u2029c"));

    [Fact]
    public void CheckSourceUrl_UnicodeLineSeparator_RefusedAndNotEchoed()
    {
        var error = SpecValidator.CheckSourceUrl("/Qfu0\u2028list_db = True");

        Assert.NotNull(error);
        Assert.DoesNotContain('\u2028', error);
    }
}
