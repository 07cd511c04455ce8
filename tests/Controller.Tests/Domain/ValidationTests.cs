using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Sources;
using Xunit;

namespace OdooFleet.Controller.Tests.Domain;

public sealed class ValidationTests
{
    [Theory]
    [InlineData("18.0", true)]
    [InlineData("17.0", true)]
    [InlineData("saas-17.4", false)]
    [InlineData("18", false)]
    [InlineData("18.0\n", false)]
    [InlineData("18.0;rm", false)]
    [InlineData("", false)]
    public void IsSeries_Table(string value, bool expected) => Assert.Equal(expected, Validation.IsSeries(value));

    [Theory]
    [InlineData("th1", true)]
    [InlineData("erp-01", true)]
    [InlineData("-erp", false)]
    [InlineData("erp-", false)]
    [InlineData("ERP", false)]
    [InlineData("a.b", false)]
    [InlineData("a b", false)]
    [InlineData("x\ny", false)]
    public void IsHostName_Table(string value, bool expected) => Assert.Equal(expected, Validation.IsHostName(value));

    [Theory]
    [InlineData("/opt/wheelhouse", true)]
    [InlineData("/srv/py-wheels/18.0", true)]
    [InlineData("opt/wheelhouse", false)]
    [InlineData("/", false)]
    [InlineData("/srv/../etc", false)]
    [InlineData("/srv//x", false)]
    [InlineData("/srv/./x", false)]
    [InlineData("/srv/with space", false)]
    [InlineData("/srv/x\n", false)]
    [InlineData("/srv/$(id)", false)]
    [InlineData("", false)]
    public void IsAbsolutePath_Table(string value, bool expected) => Assert.Equal(expected, Validation.IsAbsolutePath(value));

    [Theory]
    [InlineData("r-abcdefghjk", 'r', true)]
    [InlineData("h-abcdefghjk", 'r', false)]
    [InlineData("r-abcdefghj", 'r', false)]
    [InlineData("r-abcdefghjl", 'r', false)] // 'l' is not in the id alphabet
    [InlineData("r-ABCDEFGHJK", 'r', false)]
    public void IsId_Table(string value, char prefix, bool expected) => Assert.Equal(expected, Validation.IsId(value, prefix));

    [Fact]
    public void NewId_AlwaysValid()
    {
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(Validation.IsId(Identifiers.New("h"), 'h'));
        }
    }

    [Fact]
    public void ParseHeads_LsRemoteOutput_MapsBranchesToCommits()
    {
        var a = new string('a', 40);
        var b = new string('b', 40);
        var output = $"{a}\trefs/heads/17.0\n{b}\trefs/heads/18.0\nnot-a-sha\trefs/heads/broken\n{a}\trefs/tags/v1\n";

        var heads = ReleaseResolver.ParseHeads(output);

        Assert.Equal(2, heads.Count);
        Assert.Equal(a, heads["17.0"]);
        Assert.Equal(b, heads["18.0"]);
    }
}
