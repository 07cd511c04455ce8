namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// A deliberately strict INI reading of a rendered file, the test's own: lines are split wherever
/// any reader might split them (Python's str.splitlines set), a line is a comment, a section header
/// or "key = value" with a plain key; anything else (a continuation line, a stray line, a
/// duplicate key) is reported as a structural problem. Used to check that a file has exactly the
/// sections and keys intended, whatever the values were.
/// </summary>
internal static class IniReader
{
    private static readonly char[] LineBreaks = ['\n', '\r', '\v', '\f', '\u001c', '\u001d', '\u001e', '\u0085', '\u2028', '\u2029'];

    public sealed record Parsed(IReadOnlyList<string> Sections, IReadOnlyDictionary<string, Dictionary<string, string>> Values, string? Problem);

    public static Parsed Read(string text)
    {
        var sections = new List<string>();
        var values = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        Dictionary<string, string>? current = null;
        var lines = text.Split(LineBreaks);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.Length == 0 || line[0] is ';' or '#')
            {
                continue;
            }

            if (line[0] == '[')
            {
                if (!line.EndsWith(']') || line.Length < 3)
                {
                    return new(sections, values, $"line {i + 1}: broken section header");
                }

                var name = line[1..^1];
                if (values.ContainsKey(name))
                {
                    return new(sections, values, $"line {i + 1}: section [{name}] twice");
                }

                sections.Add(name);
                current = values[name] = new Dictionary<string, string>(StringComparer.Ordinal);
                continue;
            }

            var equals = line.IndexOf(" = ", StringComparison.Ordinal);
            var key = equals < 0 ? "" : line[..equals];
            if (current is null || equals <= 0 || !key.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '-'))
            {
                return new(sections, values, $"line {i + 1}: not \"key = value\" in a section: {OdooFleet.Fuzz.FuzzTally.Show(line)}");
            }

            if (!current.TryAdd(key, line[(equals + 3)..]))
            {
                return new(sections, values, $"line {i + 1}: key {key} twice");
            }
        }

        return new(sections, values, null);
    }
}
