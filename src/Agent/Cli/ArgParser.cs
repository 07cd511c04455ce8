namespace OdooFleet.Agent.Cli;

/// <summary>A command's options: name (without "--"), whether it takes a value, whether it may repeat.</summary>
internal sealed record OptionSpec(string Name, bool TakesValue, bool Repeatable = false);

internal sealed record ParsedArgs(string Command, IReadOnlyDictionary<string, IReadOnlyList<string>> Options, bool Help)
{
    public string? Value(string name) => Options.TryGetValue(name, out var values) ? values[^1] : null;

    public IReadOnlyList<string> Values(string name) => Options.TryGetValue(name, out var values) ? values : [];

    public bool Flag(string name) => Options.ContainsKey(name);
}

internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The agent's tiny argv grammar: `COMMAND [--name value | --name=value | --flag]...`.
/// No positional arguments; unknown options are errors that name the valid ones.
/// </summary>
internal static class ArgParser
{
    public static ParsedArgs Parse(IReadOnlyList<string> args, IReadOnlyDictionary<string, IReadOnlyList<OptionSpec>> commands)
    {
        if (args.Count == 0 || args[0] is "--help" or "-h" or "help")
        {
            return new ParsedArgs("", new Dictionary<string, IReadOnlyList<string>>(), Help: true);
        }

        var command = args[0];
        if (!commands.TryGetValue(command, out var specs))
        {
            throw new UsageException($"unknown command '{command}'; commands: {string.Join(", ", commands.Keys)} (see --help)");
        }

        var options = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var help = false;
        for (var i = 1; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h")
            {
                help = true;
                continue;
            }

            if (!arg.StartsWith("--", StringComparison.Ordinal) || arg.Length == 2)
            {
                throw new UsageException($"{command}: unexpected argument '{arg}'; options are given as --name value");
            }

            var name = arg[2..];
            string? inlineValue = null;
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inlineValue = name[(eq + 1)..];
                name = name[..eq];
            }

            var spec = specs.FirstOrDefault(s => s.Name == name)
                ?? throw new UsageException($"{command}: unknown option --{name}; valid: {string.Join(", ", specs.Select(s => "--" + s.Name))}");
            string value;
            if (spec.TakesValue)
            {
                if (inlineValue is null)
                {
                    if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        throw new UsageException($"{command}: --{name} needs a value");
                    }

                    inlineValue = args[++i];
                }

                value = inlineValue;
            }
            else
            {
                if (inlineValue is not null)
                {
                    throw new UsageException($"{command}: --{name} is a flag and takes no value");
                }

                value = "true";
            }

            if (!options.TryGetValue(name, out var values))
            {
                options[name] = values = [];
            }
            else if (!spec.Repeatable)
            {
                throw new UsageException($"{command}: --{name} given twice");
            }

            values.Add(value);
        }

        return new ParsedArgs(command, options.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)p.Value, StringComparer.Ordinal), help);
    }
}
