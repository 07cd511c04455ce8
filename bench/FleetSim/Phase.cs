using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OdooFleet.FleetSim;

/// <summary>One measured phase: wall time, what the fleet received, and what the controller spent.</summary>
internal sealed record PhaseResult(
    string Name,
    double WallSeconds,
    long ConvergeCommands,
    long StageCommands,
    long StaleCommands,
    long ConvergeReports,
    long StageReports,
    double ControllerCpuSeconds,
    double ControllerPeakRssMb,
    double SimulatorCpuSeconds,
    double PostgresCpuSeconds,
    double RabbitMqCpuSeconds,
    string LoadAverage);

internal sealed record RunResult(
    int Hosts,
    double EnrollSeconds,
    double OnlineWaitSeconds,
    string RolloutState,
    string RolloutMessage,
    int RolloutBatches,
    Dictionary<string, int> RolloutHostStates,
    int HostsNotOnRelease,
    long RejectedCommands,
    long RpcErrors,
    int RolloutPollErrors,
    List<PhaseResult> Phases,
    string Shortcut);

internal sealed class Phase
{
    /// <summary>Process names whose CPU the table shows beside the controller's: the database and the broker (Erlang VM).</summary>
    private const string PostgresCommand = "postgres";
    private const string RabbitMqCommand = "beam.smp";

    private readonly string name;
    private readonly ProcessSampler sampler;
    private readonly Counters counters;
    private readonly long started;
    private readonly double cpu;
    private readonly string loadAverage;
    private readonly TimeSpan simCpu;
    private readonly double postgresCpu;
    private readonly double rabbitCpu;
    private readonly (long Converge, long Stage, long Stale, long Reports, long StageReports) before;

    private Phase(string name, ProcessSampler sampler, Counters counters)
    {
        this.name = name;
        this.sampler = sampler;
        this.counters = counters;
        sampler.TakePeakMb();
        cpu = sampler.CpuSeconds();
        simCpu = Process.GetCurrentProcess().TotalProcessorTime;
        postgresCpu = ProcessSampler.CpuSecondsOf(PostgresCommand);
        rabbitCpu = ProcessSampler.CpuSecondsOf(RabbitMqCommand);
        before = Snapshot(counters);
        // Other work on the same cores skews every figure: recorded beside them.
        loadAverage = string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);
        started = Stopwatch.GetTimestamp();
    }

    public static Phase Begin(string name, ProcessSampler sampler, Counters counters) => new(name, sampler, counters);

    /// <summary>Ends the phase at <paramref name="endedAt"/> (a Stopwatch timestamp: e.g. the last report of a round).</summary>
    public PhaseResult End(long endedAt)
    {
        var after = Snapshot(counters);
        return new PhaseResult(
            name,
            Stopwatch.GetElapsedTime(started, Math.Max(started, endedAt)).TotalSeconds,
            after.Converge - before.Converge,
            after.Stage - before.Stage,
            after.Stale - before.Stale,
            after.Reports - before.Reports,
            after.StageReports - before.StageReports,
            sampler.CpuSeconds() - cpu,
            sampler.TakePeakMb(),
            (Process.GetCurrentProcess().TotalProcessorTime - simCpu).TotalSeconds,
            ProcessSampler.CpuSecondsOf(PostgresCommand) - postgresCpu,
            ProcessSampler.CpuSecondsOf(RabbitMqCommand) - rabbitCpu,
            loadAverage);
    }

    private static (long Converge, long Stage, long Stale, long Reports, long StageReports) Snapshot(Counters c) => (c.Converge, c.Stage, c.Stale, c.ConvergeReports, c.StageReports);
}

internal static class JsonOut
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };
}

internal static class Args
{
    /// <summary>--name value pairs; every option takes a value.</summary>
    public static Dictionary<string, string> Parse(string[] args)
    {
        var parsed = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"'{args[i]}': expected --option value");
            }

            parsed[args[i][2..]] = args[++i];
        }

        return parsed;
    }
}
