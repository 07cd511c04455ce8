using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using OdooFleet.Cli.Configuration;
using OdooFleet.Cli.Input;
using OdooFleet.Cli.Output;
using OdooFleet.Cli.Transport;

namespace OdooFleet.Cli.Commands;

/// <summary>-o table|json; a record rather than an enum so help prints the value as typed.</summary>
internal sealed record OutputFormat(string Name)
{
    public static readonly OutputFormat Table = new("table");
    public static readonly OutputFormat Json = new("json");

    public override string ToString() => Name;
}

/// <summary>What every command builder shares: the host, the global options, help examples.</summary>
internal sealed class CommandContext(CliHost host)
{
    private readonly Dictionary<Command, string> examples = [];

    public CliHost Host { get; } = host;

    public Option<string?> Controller { get; } = new(ControllerResolver.ControllerOption)
    {
        Description = "Controller URL (or comma-separated URLs to fail over across); overrides FLEET_CONTROLLER and the config file",
        HelpName = "url",
        Recursive = true,
    };

    public IReadOnlyDictionary<Command, string> Examples => examples;

    public Renderer Renderer { get; } = new(host);

    public void AddExamples(Command command, params string[] lines) =>
        examples[command] = "Examples:" + Environment.NewLine + string.Join(Environment.NewLine, lines.Select(l => l.Length == 0 ? l : "  " + l));

    public FleetConnection Connect(ParseResult parse)
    {
        var target = ControllerResolver.Resolve(
            parse.GetValue(Controller), Host.GetEnvironment(ControllerResolver.ControllerVariable), ConfigLocations.From(Host));
        return new FleetConnection(target);
    }

    public static Option<OutputFormat> OutputOption()
    {
        var option = new Option<OutputFormat>("--output", "-o")
        {
            Description = "Output format: table for people, json for scripts (stable property names)",
            HelpName = "table|json",
            DefaultValueFactory = _ => OutputFormat.Table,
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                switch (text.ToUpperInvariant())
                {
                    case "TABLE":
                        return OutputFormat.Table;
                    case "JSON":
                        return OutputFormat.Json;
                    default:
                        result.AddError($"--output: '{text}' is not an output format; use table or json (e.g. -o json)");
                        return OutputFormat.Table;
                }
            },
        };
        return option;
    }

    /// <summary>A duration option (90s, 30m, 1h, 2d; positive, at most 30d), validated while parsing.</summary>
    public static Option<TimeSpan?> DurationOption(string name, string description)
    {
        var option = new Option<TimeSpan?>(name)
        {
            Description = description,
            HelpName = "duration",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (DurationParser.TryParse(text, name, out var duration, out var error))
                {
                    return duration;
                }

                result.AddError(error);
                return null;
            },
        };
        return option;
    }

    /// <summary>--since as a duration back from now (30m, 2d) or an ISO time; resolved against the clock when the command runs.</summary>
    public static Option<Func<DateTimeOffset, DateTimeOffset>?> SinceOption(string description) => new("--since")
    {
        Description = description,
        HelpName = "duration|time",
        CustomParser = result =>
        {
            var text = Token(result);
            if (text.Contains('-', StringComparison.Ordinal)
                && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            {
                return _ => time;
            }

            if (DurationParser.TryParse(text, "--since", out var duration, out var error))
            {
                return now => now - duration;
            }

            result.AddError($"{error}, or a time like 2026-11-23T12:00:00Z");
            return null;
        },
    };

    /// <summary>A whole number option within [minimum, maximum], validated while parsing.</summary>
    public static Option<int?> CountOption(string name, string description, int minimum, int maximum, string example) => new(name)
    {
        Description = description,
        HelpName = "N",
        CustomParser = result =>
        {
            var text = Token(result);
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= minimum && n <= maximum)
            {
                return n;
            }

            result.AddError(string.Create(
                CultureInfo.InvariantCulture, $"{name}: '{Printable(text)}' is not a whole number from {minimum} to {maximum} (e.g. {name} {example})"));
            return null;
        },
    };

    private static string Token(ArgumentResult result) => result.Tokens.Count > 0 ? result.Tokens[0].Value : "";

    private static string Printable(string value) =>
        new([.. value.Take(64).Select(c => char.IsControl(c) ? '?' : c)]);
}
