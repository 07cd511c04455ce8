using OdooFleet.Controller.Domain;
using Xunit;

namespace OdooFleet.Controller.Tests.Fuzz;

/// <summary>
/// An odoo.conf option value with U+2028 passed the controller (found by the fuzz tests) although
/// the agent refuses it; error messages echoed it too.
/// </summary>
public sealed class LineSeparatorEscapeTests
{
    [Theory]
    [InlineData("noreply@example.com\u2028list_db = True")]
    [InlineData("x\u2029[options]")]
    public void Validate_OptionValueWithLineSeparator_RefusedNamingTheOption(string value)
    {
        var errors = ProfileRules.Validate(new ProfileChange { SetOptions = new() { ["email_from"] = value } });

        var error = Assert.Single(errors);
        Assert.StartsWith("option 'email_from': ", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\u2028', error);
        Assert.DoesNotContain('\u2029', error);
    }

    [Fact]
    public void Printable_UnicodeLineSeparator_Replaced() => Assert.Equal("a?b?c", ProfileRules.Printable("a\u2028b\u2029c"));
}
