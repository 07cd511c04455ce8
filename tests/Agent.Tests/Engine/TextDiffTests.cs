using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Engine;

public sealed class TextDiffTests
{
    [Fact]
    public void Unified_OneChangedLine_ShowsHunkWithContext()
    {
        var old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        var @new = "a\nb\nc\nd\nE\nf\ng\nh\n";

        var diff = TextDiff.Unified("/etc/x.conf", old, @new);

        Assert.Equal(
            "--- a/etc/x.conf\n+++ b/etc/x.conf\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n",
            diff);
    }

    [Fact]
    public void Unified_NewFile_ShowsEveryLineAdded()
    {
        var diff = TextDiff.Unified("/etc/new", "", "x\ny\n");

        Assert.Equal("--- a/etc/new\n+++ b/etc/new\n@@ -0,0 +1,2 @@\n+x\n+y\n", diff);
    }

    [Fact]
    public void Unified_TwoDistantChanges_TwoHunks()
    {
        var lines = Enumerable.Range(1, 20).Select(i => $"l{i}").ToList();
        var changed = lines.ToList();
        changed[1] = "X2";
        changed[17] = "X18";

        var diff = TextDiff.Unified("/f", string.Join('\n', lines) + "\n", string.Join('\n', changed) + "\n");

        Assert.Equal(2, diff.Split('\n').Count(l => l.StartsWith("@@", StringComparison.Ordinal)));
        Assert.Contains("-l2\n+X2\n", diff, StringComparison.Ordinal);
        Assert.Contains("-l18\n+X18\n", diff, StringComparison.Ordinal);
    }
}
