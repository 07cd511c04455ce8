using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class SpecValidatorTests
{
    private static readonly string Commit = new('0', 40);

    [Theory]
    [InlineData("18.0")]
    [InlineData("9.0")]
    [InlineData("100.1")]
    public void CheckSeries_Valid_ReturnsNull(string series) => Assert.Null(SpecValidator.CheckSeries(series));

    [Theory]
    [InlineData("")]
    [InlineData("18")]
    [InlineData("18.0.1")]
    [InlineData("saas-18.1")]
    [InlineData("../18.0")]
    [InlineData("1000.0")]
    public void CheckSeries_Invalid_NamesFieldRuleAndFix(string series)
    {
        var error = SpecValidator.CheckSeries(series);
        Assert.NotNull(error);
        Assert.StartsWith("odoo.release.series:", error, StringComparison.Ordinal);
        Assert.Contains(@"^\d{1,3}\.\d$", error, StringComparison.Ordinal);
        Assert.Contains("fix", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc123")]
    [InlineData("ABCDEF0123456789ABCDEF0123456789ABCDEF01")]
    [InlineData("0123456789abcdef0123456789abcdef0123456g")]
    [InlineData("0123456789abcdef0123456789abcdef01234567 ")]
    public void CheckCommit_Invalid_NamesFieldRuleAndFix(string commit)
    {
        var error = SpecValidator.CheckCommit(commit);
        Assert.NotNull(error);
        Assert.StartsWith("odoo.release.commit:", error, StringComparison.Ordinal);
        Assert.Contains("40-character", error, StringComparison.Ordinal);
        Assert.Contains("resolve the branch", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://github.com/odoo/odoo.git")]
    [InlineData("http://mirror.local/odoo.git")]
    [InlineData("git://mirror.local/odoo.git")]
    [InlineData("ssh://git@mirror.local/odoo.git")]
    [InlineData("file:///srv/git/odoo.git")]
    [InlineData("/srv/git/odoo.git")]
    public void CheckSourceUrl_Valid_ReturnsNull(string url) => Assert.Null(SpecValidator.CheckSourceUrl(url));

    [Theory]
    [InlineData("")]
    [InlineData("--upload-pack=touch /tmp/pwned")]
    [InlineData("ftp://mirror.local/odoo.git")]
    [InlineData("git@github.com:odoo/odoo.git")]
    [InlineData("relative/path")]
    [InlineData("file://relative")]
    [InlineData("https://")]
    [InlineData("https://host/a b")]
    public void CheckSourceUrl_Invalid_NamesFieldAndRule(string url)
    {
        var error = SpecValidator.CheckSourceUrl(url);
        Assert.NotNull(error);
        Assert.StartsWith("odoo.source_url:", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_SamePorts_Rejected()
    {
        var errors = SpecValidator.Validate(new OdooDesired(new ReleaseRef("18.0", Commit), "/srv/odoo.git", 8069, 8069));
        Assert.Contains(errors, e => e.StartsWith("odoo.gevent_port:", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsAll()
    {
        var errors = SpecValidator.Validate(new OdooDesired(new ReleaseRef("x", "y"), "ftp://x", 0, 70000));
        Assert.Equal(5, errors.Count);
    }
}
