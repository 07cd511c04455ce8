using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace OdooFleet.Agent.Engine;

/// <summary>One external program invocation: an argument array, never a shell string.</summary>
internal sealed record CommandSpec(string Program, IReadOnlyList<string> Arguments)
{
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(2);
    public string? WorkingDirectory { get; init; }
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Text written to the program's stdin (e.g. SQL for psql, so values travel as psql variables, never spliced into argv).</summary>
    public string? StandardInput { get; init; }

    /// <summary>A file whose bytes are the program's stdin (binary, e.g. a dump for pg_restore); exclusive with <see cref="StandardInput"/>.</summary>
    public string? StandardInputPath { get; init; }

    /// <summary>
    /// A file (created 0600, replaced if present) that receives stdout as bytes instead of capturing it:
    /// for binary output (pg_dump -Fc) written by a program running as another user where that user could not write.
    /// </summary>
    public string? StandardOutputPath { get; init; }

    /// <summary>The same invocation as another (system) user, through runuser(1); the user name is checked by the caller.</summary>
    public CommandSpec AsUser(string user) => this with { Program = "runuser", Arguments = ["-u", user, "--", Program, .. Arguments] };

    public override string ToString() => string.Join(' ', [Program, .. Arguments.Select(Quote)]);

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@+,".Contains(c))
            ? argument
            : $"'{argument.Replace("'", "'\\''", StringComparison.Ordinal)}'";
}

internal sealed record CommandResult(int ExitCode, string Stdout, string Stderr, bool TimedOut)
{
    /// <summary>Exit code used when the program could not be started at all (as a shell would).</summary>
    public const int NotFoundExitCode = 127;

    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>A one-line summary for resource messages: exit code and the end of stderr.</summary>
    public string Describe(CommandSpec spec)
    {
        if (TimedOut)
        {
            return $"`{spec}` timed out after {spec.Timeout.TotalSeconds:0} s";
        }

        var detail = (Stderr.Trim().Length > 0 ? Stderr : Stdout).Trim();
        if (detail.Length > 400)
        {
            detail = "…" + detail[^400..];
        }

        return $"`{spec}` exited with {ExitCode}{(detail.Length > 0 ? ": " + detail : "")}";
    }
}

/// <summary>Every external program the agent runs goes through this, so it is logged, bounded and testable.</summary>
internal interface ICommandRunner
{
    Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct);
}

internal sealed class CommandFailedException(string message) : Exception(message);

internal static class CommandRunnerExtensions
{
    /// <summary>Runs and throws <see cref="CommandFailedException"/> unless the exit code is 0.</summary>
    public static async Task<CommandResult> RunCheckedAsync(this ICommandRunner runner, CommandSpec spec, CancellationToken ct)
    {
        var result = await runner.RunAsync(spec, ct);
        return result.Succeeded ? result : throw new CommandFailedException(result.Describe(spec));
    }
}

internal sealed class ProcessCommandRunner : ICommandRunner
{
    private static readonly string[] SystemdServiceVariables = ["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"];

    public async Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
    {
        var startInfo = new ProcessStartInfo(spec.Program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (spec.WorkingDirectory is not null)
        {
            startInfo.WorkingDirectory = spec.WorkingDirectory;
        }

        // Programs must never wait for a human, and their messages must be parseable.
        startInfo.Environment["LC_ALL"] = "C";

        // systemd's per-service sockets belong to the agent alone: a child (dpkg's maintainer
        // scripts, a daemon started by one) must not notify or inherit them as if it were the agent.
        foreach (var inherited in SystemdServiceVariables)
        {
            startInfo.Environment.Remove(inherited);
        }
        foreach (var (key, value) in spec.Environment)
        {
            startInfo.Environment[key] = value;
        }

        // Opened first: a missing input file is an error of the caller, not a program waiting on stdin.
        await using var inputFile = spec.StandardInputPath is { } inputPath ? File.OpenRead(inputPath) : null;
        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return new CommandResult(CommandResult.NotFoundExitCode, "", $"cannot start '{spec.Program}': {e.Message}", false);
        }

        Task<string> stdout;
        if (spec.StandardOutputPath is { } outputPath)
        {
            stdout = CopyToFileAsync(process.StandardOutput.BaseStream, outputPath);
        }
        else
        {
            stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        }

        if (inputFile is not null)
        {
            try
            {
                await inputFile.CopyToAsync(process.StandardInput.BaseStream, ct);
            }
            catch (IOException)
            {
                // The program exited without reading all of its input; its exit code tells why.
            }
        }
        else if (spec.StandardInput is { } input)
        {
            try
            {
                await process.StandardInput.WriteAsync(input.AsMemory(), ct);
            }
            catch (IOException)
            {
                // The program exited without reading all of its input; its exit code tells why.
            }
        }

        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(spec.Timeout);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            ct.ThrowIfCancellationRequested();
            timedOut = true;
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr, timedOut);
    }

    private static async Task<string> CopyToFileAsync(Stream output, string path)
    {
        var options = new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        };
        await using (var file = new FileStream(path, options))
        {
            await output.CopyToAsync(file, CancellationToken.None);
            file.Flush(flushToDisk: true);
        }

        return "";
    }

    /// <summary>True when <paramref name="program"/> is an executable file on PATH (or an absolute path).</summary>
    public static bool IsOnPath(string program)
    {
        if (Path.IsPathRooted(program))
        {
            return File.Exists(program);
        }

        var path = System.Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, program)));
    }
}
