using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>A trailing "." segment got through IsSafeAbsolutePath (found by the fuzz tests); "/./" and "/.." never did.</summary>
public sealed class DotSegmentEscapeTests
{
    [Theory]
    [InlineData("/.")]
    [InlineData("/var/log/odoo/.")]
    public void IsSafeAbsolutePath_TrailingDotSegment_Refused(string path) => Assert.False(Grammar.IsSafeAbsolutePath(path));

    [Theory]
    [InlineData("/var/log/odoo/.hidden")]
    [InlineData("/opt/odoo/releases/18.0-abc")]
    public void IsSafeAbsolutePath_DotInsideName_Accepted(string path) => Assert.True(Grammar.IsSafeAbsolutePath(path));
}
