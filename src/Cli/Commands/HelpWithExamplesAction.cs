using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace OdooFleet.Cli.Commands;

/// <summary>The standard help, followed by the command's examples (and for the root, exit codes and configuration).</summary>
internal sealed class HelpWithExamplesAction(HelpAction standard, IReadOnlyDictionary<Command, string> examples) : SynchronousCommandLineAction
{
    public override bool ClearsParseErrors => true;

    public override int Invoke(ParseResult parseResult)
    {
        var result = standard.Invoke(parseResult);
        if (examples.TryGetValue(parseResult.CommandResult.Command, out var text))
        {
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(text);
            output.WriteLine();
        }

        return result;
    }
}
