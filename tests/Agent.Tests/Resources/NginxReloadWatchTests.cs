using System.Globalization;
using System.Net;
using System.Net.Sockets;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The wait after an nginx reload, against a real nginx master on loopback: once it returns, a new
/// connection gets the configuration the reload read; a master that was never told to reload keeps
/// its workers and the wait fails with where to look.
/// </summary>
public sealed class NginxReloadWatchTests : IAsyncDisposable
{
    private readonly TempDirectory dir = new();
    private readonly ProcessCommandRunner runner = new();
    private bool started;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Conf => Path.Join(dir.Path, "nginx.conf");

    private string PidFile => Path.Join(dir.Path, "nginx.pid");

    public async ValueTask DisposeAsync()
    {
        if (started)
        {
            await runner.RunAsync(new CommandSpec("nginx", ["-c", Conf, "-s", "stop"]), CancellationToken.None);
        }

        dir.Dispose();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task WriteConfAsync(int port, string answer)
    {
        var d = dir.Path;
        var conf = $$"""
            worker_processes 2;
            error_log {{d}}/error.log;
            pid {{PidFile}};
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path {{d}}/body;
                proxy_temp_path {{d}}/proxy;
                fastcgi_temp_path {{d}}/fastcgi;
                uwsgi_temp_path {{d}}/uwsgi;
                scgi_temp_path {{d}}/scgi;
                server {
                    listen 127.0.0.1:{{port.ToString(CultureInfo.InvariantCulture)}};
                    location / { return 200 "{{answer}}"; }
                }
            }

            """;
        await File.WriteAllTextAsync(Conf, conf, Ct);
    }

    private async Task StartAsync(int port)
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("nginx"), "nginx is not installed");
        await WriteConfAsync(port, "generation-0");
        await runner.RunCheckedAsync(new CommandSpec("nginx", ["-c", Conf]), Ct);
        started = true;
    }

    /// <summary>The master forks, writes its pid and starts its workers after `nginx` returned: waits for both workers.</summary>
    private static async Task<NginxReloadWatch.Workers> AllWorkersAsync(NginxReloadWatch watch)
    {
        var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
        while (true)
        {
            if (watch.Snapshot() is { Serving.Count: 2 } workers)
            {
                return workers;
            }

            Assert.True(DateTimeOffset.UtcNow < deadline, "nginx did not run two workers within 30 s");
            await Task.Delay(TimeSpan.FromMilliseconds(20), Ct);
        }
    }

    private static async Task<string> GetAsync(int port)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
        request.Headers.ConnectionClose = true;
        using var response = await http.SendAsync(request, Ct);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    [Fact]
    public async Task WaitApplied_AfterEachReload_TheNextConnectionGetsTheNewConfiguration()
    {
        var port = FreePort();
        await StartAsync(port);
        var watch = new NginxReloadWatch(HostPaths.System, TimeProvider.System) { PidFile = PidFile };

        for (var generation = 1; generation <= 5; generation++)
        {
            var answer = $"generation-{generation.ToString(CultureInfo.InvariantCulture)}";
            await WriteConfAsync(port, answer);
            var before = await AllWorkersAsync(watch);

            await runner.RunCheckedAsync(new CommandSpec("nginx", ["-c", Conf, "-s", "reload"]), Ct);
            await watch.WaitAppliedAsync(before, Ct);

            Assert.Equal(answer, await GetAsync(port));
            var after = await AllWorkersAsync(watch);
            Assert.Equal(before.MasterPid, after.MasterPid);
            Assert.False(after.Serving.Overlaps(before.Serving));
        }
    }

    [Fact]
    public async Task WaitApplied_MasterKeepsItsWorkers_FailsAfterTheDeadlineNamingTheErrorLog()
    {
        var port = FreePort();
        await StartAsync(port);
        var watch = new NginxReloadWatch(HostPaths.System, TimeProvider.System)
        {
            PidFile = PidFile,
            Deadline = TimeSpan.FromMilliseconds(300),
            Interval = TimeSpan.FromMilliseconds(20),
        };
        var before = await AllWorkersAsync(watch);

        var error = await Assert.ThrowsAsync<ResourceFailedException>(() => watch.WaitAppliedAsync(before, Ct));
        Assert.Contains("did not load the new configuration", error.Message, StringComparison.Ordinal);
        Assert.Contains("/var/log/nginx/error.log", error.Message, StringComparison.Ordinal);
        Assert.Equal("generation-0", await GetAsync(port));
    }

    [Fact]
    public void Snapshot_NoPidFile_IsNullSoAReloadHasNothingToWaitFor()
    {
        var watch = new NginxReloadWatch(new HostPaths(dir.Path), TimeProvider.System);
        Assert.Null(watch.Snapshot());
    }

    [Fact]
    public void Snapshot_ProcLaidOut_CountsOnlyTheMastersWorkersThatAreNotShuttingDown()
    {
        var root = new HostPaths(dir.Path);
        Directory.CreateDirectory(root.Resolve("/run"));
        File.WriteAllText(root.Resolve(NginxReloadWatch.DefaultPidFile), "100\n");
        void Process(int pid, int parent, string comm, string title)
        {
            var p = root.Resolve($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}");
            Directory.CreateDirectory(p);
            File.WriteAllText(Path.Join(p, "stat"), $"{pid} ({comm}) S {parent} {pid} {pid} 0 -1 4194560");
            File.WriteAllText(Path.Join(p, "cmdline"), title + "\0\0\0");
        }

        Process(100, 1, "nginx", "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;");
        Process(101, 100, "nginx", "nginx: worker process");
        Process(102, 100, "nginx", "nginx: worker process is shutting down");
        Process(103, 100, "nginx", "nginx: cache manager process");
        Process(104, 7, "nginx", "nginx: worker process");
        Process(105, 100, "odd) S 1 (name", "nginx: worker process");

        var snapshot = new NginxReloadWatch(root, TimeProvider.System).Snapshot();

        Assert.NotNull(snapshot);
        Assert.Equal(100, snapshot.MasterPid);
        Assert.Equal([101, 105], snapshot.Serving.Order());
    }

    [Theory]
    [InlineData("42 (nginx) S 7 42 42 0 -1", 7)]
    [InlineData("42 (a) b (c) R 9 42", 9)]
    [InlineData("42 (nginx", null)]
    [InlineData("42 (nginx) S", null)]
    public void ParentOf_ReadsTheFieldAfterTheLastParenthesis(string stat, int? parent) =>
        Assert.Equal(parent, NginxReloadWatch.ParentOf(stat));
}
