using System.Collections;
using System.CommandLine;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;
using OdooFleet.Cli.Commands;

namespace OdooFleet.Cli;

internal static class Program
{
    public static Task<int> Main(string[] args) =>
        RunAsync(args, new CliHost
        {
            Out = Console.Out,
            Err = Console.Error,
            Environment = ReadEnvironment(),
            OutputIsTerminal = !Console.IsOutputRedirected,
            HandleTerminationSignals = true,
        });

    /// <summary>Runs `fleet` in-process: what tests call instead of spawning the executable.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?> environment) =>
        RunAsync(args, new CliHost { Out = output, Err = error, Environment = environment });

    public static async Task<int> RunAsync(string[] args, CliHost host, CancellationToken cancellationToken = default)
    {
        var root = FleetCommandLine.Build(host);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var problem in parse.Errors)
            {
                await host.Err.WriteLineAsync($"error: {problem.Message}");
            }

            await host.Err.WriteLineAsync($"see `{CommandPath(parse)} --help` for usage and examples");
            return ExitCodes.Usage;
        }

        var invocation = new InvocationConfiguration
        {
            Output = host.Out,
            Error = host.Err,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = host.HandleTerminationSignals ? TimeSpan.FromSeconds(2) : null,
        };
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken);
        }
        catch (CliException e)
        {
            await host.Err.WriteLineAsync($"error: {e.Message}");
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await host.Err.WriteLineAsync("error: interrupted (a started rollout carries on on the controller)");
            return ExitCodes.Interrupted;
        }
#pragma warning disable CA1031 // Last resort: one line instead of a stack trace; FLEET_DEBUG=1 shows the trace.
        catch (Exception e)
#pragma warning restore CA1031
        {
            await host.Err.WriteLineAsync(host.GetEnvironment("FLEET_DEBUG") == "1"
                ? $"error: {e}"
                : $"error: {e.Message} (set FLEET_DEBUG=1 for details)");
            return ExitCodes.Failed;
        }
    }

    /// <summary>"fleet rollout status" for the command the parser got to.</summary>
    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result.Parent is CommandResult parent; result = parent)
        {
            names.Insert(0, result.Command.Name);
        }

        return string.Join(' ', ["fleet", .. names]);
    }

    private static Dictionary<string, string?> ReadEnvironment()
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = entry.Value as string;
        }

        return environment;
    }
}
