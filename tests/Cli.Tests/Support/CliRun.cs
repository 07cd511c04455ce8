namespace OdooFleet.Cli.Tests.Support;

/// <summary>The result of one in-process `fleet` run.</summary>
internal sealed record CliResult(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Out}\nstderr:\n{Err}";
}

/// <summary>Runs `fleet` in-process with captured output and an explicit, hermetic environment.</summary>
internal static class CliRun
{
    public static async Task<CliResult> RunAsync(
        string[] args,
        IReadOnlyDictionary<string, string?>? environment = null,
        TimeProvider? time = null,
        string? systemConfigPath = null)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var host = new CliHost
        {
            Out = output,
            Err = error,
            Environment = environment ?? new Dictionary<string, string?>(),
            Time = time ?? TimeProvider.System,
            SystemConfigPath = systemConfigPath ?? Path.Combine(Path.GetTempPath(), "odoofleet-tests-no-such-dir", "fleet.json"),
            ReconnectDelay = _ => TimeSpan.Zero,
        };
        var exitCode = await Program.RunAsync(args, host, TestContext.Current.CancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}

/// <summary>A scratch directory removed after the test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("fleet-cli-tests-").FullName;

    public string Write(string relativePath, string content)
    {
        var full = System.IO.Path.Combine(Path, relativePath);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
        return full;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
