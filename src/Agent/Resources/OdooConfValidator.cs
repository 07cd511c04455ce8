using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Checks a new odoo.conf the way Odoo reads it: Python's configparser.RawConfigParser (Odoo's
/// tools/config.py), run by the host's python3 on the temp file. It must parse, have an [options]
/// section, and hold only keys from <paramref name="knownOptions"/> (Odoo ignores unknown keys
/// silently, so a typo would look applied and do nothing).
/// </summary>
internal sealed class OdooConfValidator(ICommandRunner runner, IReadOnlySet<string> knownOptions) : IFileValidator
{
    // Prints one key per line; a parse error exits 1 with Python's message.
    private const string Script = """
        import configparser, sys
        p = configparser.RawConfigParser()
        try:
            with open(sys.argv[1], encoding="utf-8") as f:
                p.read_file(f)
        except (OSError, configparser.Error, UnicodeDecodeError) as e:
            print(str(e).replace("\n", " "), file=sys.stderr)
            sys.exit(1)
        if not p.has_section("options"):
            print("no [options] section", file=sys.stderr)
            sys.exit(1)
        for k in p.options("options"):
            print(k)
        """;

    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        var spec = new CommandSpec("python3", ["-I", "-c", Script, tempPath]) { Timeout = TimeSpan.FromSeconds(30) };
        var result = await runner.RunAsync(spec, ct);
        if (!result.Succeeded)
        {
            throw new ResourceFailedException(
                $"the new odoo.conf does not parse as Odoo reads it (the old file is kept): {(result.TimedOut ? "python3 timed out" : result.Stderr.Trim())}");
        }

        var unknown = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(key => !knownOptions.Contains(key)).ToList();
        if (unknown.Count > 0)
        {
            throw new ResourceFailedException(
                $"the new odoo.conf has keys Odoo 18 does not know: {string.Join(", ", unknown)} (the old file is kept); remove them from the host's options");
        }
    }
}
