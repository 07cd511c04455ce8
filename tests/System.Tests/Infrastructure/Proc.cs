using System.Diagnostics;
using System.Text;

namespace OdooFleet.SystemTests.Infrastructure;

public sealed record ProcResult(int ExitCode, string Stdout, string Stderr)
{
    public string Describe() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
}

/// <summary>Runs programs with argument arrays and a hard timeout.</summary>
internal static class Proc
{
    public static async Task<ProcResult> RunAsync(
        string file, IEnumerable<string> args, TimeSpan timeout, string? stdin = null, Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? [])
        {
            psi.Environment[name] = value;
        }

        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (stdout) { stdout.AppendLine(e.Data); } } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (stderr) { stderr.AppendLine(e.Data); } } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }

        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish within {timeout}; stderr so far: {stderr}");
        }

        p.WaitForExit();
        return new ProcResult(p.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public static async Task<ProcResult> CheckedAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var r = await RunAsync(file, args, timeout);
        return r.ExitCode == 0 ? r : throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {r.Describe()}");
    }
}

/// <summary>Waits for a condition with a deadline; never a blind sleep.</summary>
internal static class Eventually
{
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, Func<T?, bool> done, TimeSpan deadline, string what)
    {
        var end = DateTime.UtcNow + deadline;
        T? last = default;
        Exception? lastError = null;
        while (DateTime.UtcNow < end)
        {
            try
            {
                last = await probe();
                if (done(last))
                {
                    return last!;
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                lastError = e;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(300));
        }

        throw new TimeoutException($"{what} did not happen within {deadline}; last value: {last}; last error: {lastError?.Message}");
    }
}
