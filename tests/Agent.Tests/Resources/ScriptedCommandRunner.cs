using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// Stands in for programs that cannot run here (apt-get installs, ufw on a box whose firewall is
/// not ours): answers each command line with output captured from real hosts, in order, and
/// records every command. A command nobody scripted fails the test.
/// </summary>
internal sealed class ScriptedCommandRunner : ICommandRunner
{
    private readonly List<(string Prefix, Queue<CommandResult> Answers)> script = [];

    public List<CommandSpec> Commands { get; } = [];

    /// <summary>The recorded command lines, as CommandSpec.ToString() prints them.</summary>
    public IEnumerable<string> Lines => Commands.Select(c => c.ToString());

    /// <summary>Answers commands starting with <paramref name="prefix"/> with these results in turn; the last one repeats.</summary>
    public ScriptedCommandRunner On(string prefix, params CommandResult[] answers)
    {
        script.Add((prefix, new Queue<CommandResult>(answers)));
        return this;
    }

    public ScriptedCommandRunner On(string prefix, string stdout, int exitCode = 0, string stderr = "") =>
        On(prefix, new CommandResult(exitCode, stdout, stderr, false));

    public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
    {
        Commands.Add(spec);
        var line = spec.ToString();
        var match = script.FirstOrDefault(s => line.StartsWith(s.Prefix, StringComparison.Ordinal));
        Assert.True(match.Answers is not null, $"unexpected command: {line}");
        var answer = match.Answers.Count > 1 ? match.Answers.Dequeue() : match.Answers.Peek();
        return Task.FromResult(answer);
    }
}
