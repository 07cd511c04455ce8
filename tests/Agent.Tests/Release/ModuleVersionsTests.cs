using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Tests.Release;

public sealed class ModuleVersionsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("18.0", "1.0", "18.0.1.0")]
    [InlineData("18.0", "18.0.1.1", "18.0.1.1")]
    [InlineData("18.0", "18.0", "18.0.18.0")]
    [InlineData("18.0", "17.0.1.0", "18.0.17.0.1.0")]
    [InlineData("18.0", "18.01.0", "18.0.18.01.0")]
    [InlineData("18.0", "", "18.0.1.0")]
    [InlineData("18.0", null, "18.0.1.0")]
    [InlineData("17.0", "17.0.2.3.1", "17.0.2.3.1")]
    public void Normalize_ManifestVersion_AsOdooAdaptsIt(string series, string? version, string expected) =>
        Assert.Equal(expected, ModuleVersions.Normalize(series, version));

    public static TheoryData<string, string[], string[], string[]> Cases => new()
    {
        // installed "name=latest_version", manifests "name=version", expected -u list
        { "same versions, short and long form", ["base=18.0.1.0", "web=1.1"], ["base=1.0", "web=18.0.1.1"], [] },
        { "one module bumped", ["base=18.0.1.0", "web=18.0.1.0"], ["base=18.0.1.0", "web=18.0.1.1"], ["web"] },
        { "fixture's raw versions in the database", ["base=18.0.1.0", "web=18.0.1.1"], ["base=18.0.1.0", "web=18.0.1.2"], ["web"] },
        { "downgrade counts as a change", ["web=18.0.1.2"], ["web=18.0.1.1"], ["web"] },
        { "not installed modules are never updated", ["base=18.0.1.0"], ["base=18.0.1.0", "sale=18.0.1.0"], [] },
        { "module gone from the release is left alone", ["base=18.0.1.0", "legacy=18.0.1.0"], ["base=18.0.1.0"], [] },
        { "unknown recorded version is updated", ["base=", "web=18.0.1.0"], ["base=18.0.1.0", "web=18.0.1.0"], ["base"] },
        { "sorted by name", ["web=1.0", "base=1.0", "mail=1.0"], ["web=1.1", "base=1.1", "mail=1.1"], ["base", "mail", "web"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Changed_InstalledAndManifests_ExactlyTheModulesWhoseVersionChanged(string because, string[] installed, string[] manifests, string[] expected)
    {
        static Dictionary<string, string> Parse(string[] pairs) => pairs.Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

        Assert.True(expected.SequenceEqual(ModuleVersions.Changed("18.0", Parse(installed), Parse(manifests))), because);
    }

    [Fact]
    public async Task ReadManifestsAsync_ReleaseTree_ReadsBothAddonsDirectoriesOdooAddonsFirst()
    {
        using var temp = new TempDirectory();
        void Manifest(string dir, string name, string body)
        {
            Directory.CreateDirectory(temp.Combine(dir, name));
            File.WriteAllText(temp.Combine(dir, name, "__manifest__.py"), body);
        }

        Manifest("odoo/addons", "base", "{'name': 'Base', 'version': '1.3', 'depends': []}\n");
        Manifest("addons", "base", "{'version': '9.9'}\n");
        Manifest("addons", "web", "# comment\n{\n    'name': 'web',\n    'version': '18.0.1.1',  # trailing\n}\n");
        Manifest("addons", "noversion", "{'name': 'x'}\n");
        Directory.CreateDirectory(temp.Combine("addons", "not_a_module"));

        var manifests = await ModuleVersions.ReadManifestsAsync(new ProcessCommandRunner(), "/usr/bin/python3", temp.Path, Ct);

        Assert.Equal(
            new Dictionary<string, string> { ["base"] = "1.3", ["noversion"] = "1.0", ["web"] = "18.0.1.1" },
            manifests.OrderBy(m => m.Key, StringComparer.Ordinal).ToDictionary());
    }

    [Fact]
    public async Task ReadManifestsAsync_ManifestThatIsCode_FailsInsteadOfRunningIt()
    {
        using var temp = new TempDirectory();
        Directory.CreateDirectory(temp.Combine("addons", "evil"));
        await File.WriteAllTextAsync(temp.Combine("addons", "evil", "__manifest__.py"), "__import__('os').system('touch pwned')\n", Ct);

        await Assert.ThrowsAsync<CommandFailedException>(() => ModuleVersions.ReadManifestsAsync(new ProcessCommandRunner(), "/usr/bin/python3", temp.Path, Ct));
        Assert.False(File.Exists(temp.Combine("pwned")));
    }
}
