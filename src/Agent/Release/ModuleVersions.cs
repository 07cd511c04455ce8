using System.Text.Json;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Release;

/// <summary>Which installed modules a new release changes, compared the way Odoo compares them.</summary>
internal static class ModuleVersions
{
    /// <summary>
    /// Odoo's adapt_version: a manifest version that is the series itself or does not start with
    /// "&lt;series&gt;." gets "&lt;series&gt;." in front ("1.1" and "18.0.1.1" are the same version on 18.0).
    /// An empty version is Odoo's default "1.0".
    /// </summary>
    public static string Normalize(string series, string? version)
    {
        var v = string.IsNullOrWhiteSpace(version) ? "1.0" : version.Trim();
        return v == series || !v.StartsWith(series + ".", StringComparison.Ordinal) ? $"{series}.{v}" : v;
    }

    /// <summary>
    /// The installed modules (name → ir_module_module.latest_version, empty when unknown) whose
    /// version in the new release's manifests differs, sorted. Modules the new release no longer
    /// ships are left alone: `-u` of a module Odoo cannot find would only be ignored with a warning.
    /// </summary>
    public static IReadOnlyList<string> Changed(string series, IReadOnlyDictionary<string, string> installed, IReadOnlyDictionary<string, string> manifests) =>
        installed
            .Where(module => manifests.TryGetValue(module.Key, out var shipped)
                && (module.Value.Length == 0 || Normalize(series, module.Value) != Normalize(series, shipped)))
            .Select(module => module.Key)
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>
    /// Python that prints {module: version} for a release, reading every __manifest__.py with
    /// ast.literal_eval (as Odoo does), odoo/addons before addons (the addons path's order: the first wins).
    /// </summary>
    private const string ManifestScript = """
        import ast, json, os, sys
        root = sys.argv[1]
        out = {}
        for sub in ("odoo/addons", "addons"):
            d = os.path.join(root, sub)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name, "__manifest__.py")
                if name in out or not os.path.isfile(path):
                    continue
                with open(path, encoding="utf-8") as f:
                    manifest = ast.literal_eval(f.read())
                out[name] = str(manifest.get("version", "1.0"))
        json.dump(out, sys.stdout)
        """;

    /// <summary>The release's manifest versions, read by <paramref name="python"/> (the release's own interpreter).</summary>
    public static async Task<IReadOnlyDictionary<string, string>> ReadManifestsAsync(ICommandRunner runner, string python, string releaseDir, CancellationToken ct)
    {
        // -I -B: no user site, no .pyc written into the release.
        var command = new CommandSpec(python, ["-I", "-B", "-c", ManifestScript, releaseDir]) { Timeout = TimeSpan.FromMinutes(2) };
        var result = await runner.RunAsync(command, ct);
        if (!result.Succeeded)
        {
            throw new CommandFailedException($"reading the module manifests of {releaseDir} failed: {result.Describe(command)}");
        }

        var manifests = new Dictionary<string, string>(StringComparer.Ordinal);
        using var document = JsonDocument.Parse(result.Stdout);
        foreach (var property in document.RootElement.EnumerateObject())
        {
            manifests[property.Name] = property.Value.GetString() ?? "";
        }

        return manifests;
    }
}
