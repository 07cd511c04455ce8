namespace OdooFleet.Cli.Input;

/// <summary>KEY=VALUE pairs from repeated options; the controller judges the key and value grammars.</summary>
internal static class LabelParser
{
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(IEnumerable<string> pairs, string optionName)
    {
        var labels = new List<KeyValuePair<string, string>>();
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw CliException.Usage($"{optionName}: '{Printable(pair)}' is not KEY=VALUE (e.g. {optionName} role=web)");
            }

            var key = pair[..equals];
            if (labels.Any(l => l.Key == key))
            {
                throw CliException.Usage($"{optionName}: '{Printable(key)}' is given more than once; pass each label once");
            }

            labels.Add(new(key, pair[(equals + 1)..]));
        }

        return labels;
    }

    private static string Printable(string value) =>
        new([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
