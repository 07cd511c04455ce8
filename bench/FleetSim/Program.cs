using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using OdooFleet.Contracts.V1;
using OdooFleet.FleetSim;
using RabbitMQ.Client;

// odoofleet-fleetsim: N virtual agents against a real controller, then two measured phases:
// a plain converge round (ConfigureHost on every host) as the protocol floor, and a rollout.
// Secrets come from the environment (OF_BENCH_API_TOKEN, OF_BENCH_MQ_PASSWORD), never argv.
const string Usage =
    "usage: odoofleet-fleetsim --api http://127.0.0.1:PORT --agent https://127.0.0.1:PORT --hosts N --controller-pid PID " +
    "--mq-vhost VHOST [--mq-host 127.0.0.1] [--mq-port 5672] [--mq-user odoofleet] [--parallel 16] [--series 18.0] " +
    "[--batch 10%] [--canary 1] [--timeout 900] --out FILE.json\n" +
    "environment: OF_BENCH_API_TOKEN (an admin API token), OF_BENCH_MQ_PASSWORD (the broker user's password)";

Dictionary<string, string> options;
try
{
    options = Args.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"fleetsim: {e.Message}\n{Usage}");
    return 2;
}

string Need(string name) => options.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required");
string Opt(string name, string fallback) => options.GetValueOrDefault(name, fallback);
int Int(string name, string fallback, int min, int max)
{
    var text = Opt(name, fallback);
    return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
        ? v
        : throw new ArgumentException($"--{name} '{text}': expected a whole number {min}..{max}");
}

string apiUrl, agentUrl, vhost, outFile, series, batch;
int hostCount, controllerPid, parallel, canary, timeoutSeconds;
try
{
    apiUrl = Need("api").TrimEnd('/');
    agentUrl = Need("agent").TrimEnd('/');
    vhost = Need("mq-vhost");
    outFile = Need("out");
    hostCount = Int("hosts", "0", 1, 20_000);
    controllerPid = Int("controller-pid", "0", 1, int.MaxValue);
    parallel = Int("parallel", "16", 1, 256);
    canary = Int("canary", "1", 0, 1000);
    timeoutSeconds = Int("timeout", "900", 10, 7200);
    series = Opt("series", "18.0");
    batch = Opt("batch", "10%");
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"fleetsim: {e.Message}\n{Usage}");
    return 2;
}

var apiToken = Environment.GetEnvironmentVariable("OF_BENCH_API_TOKEN");
var mqPassword = Environment.GetEnvironmentVariable("OF_BENCH_MQ_PASSWORD");
if (string.IsNullOrEmpty(apiToken) || string.IsNullOrEmpty(mqPassword))
{
    Console.Error.WriteLine("fleetsim: set OF_BENCH_API_TOKEN and OF_BENCH_MQ_PASSWORD in the environment (never on the command line)");
    return 2;
}

// Bounded as a whole: each measured phase gets --timeout; setup gets 2 s per host on top (the
// controller derives each host's Odoo master password hash, PBKDF2 600,000 rounds, on its first spec).
using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds((timeoutSeconds * 3.0) + (hostCount * 2.0)));
var ct = stopping.Token;
var phaseTimeout = TimeSpan.FromSeconds(timeoutSeconds);
var auth = new Metadata { { "authorization", "Bearer " + apiToken } };
using var apiChannel = GrpcChannel.ForAddress(apiUrl, new GrpcChannelOptions
{
    HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
    MaxReceiveMessageSize = 64 * 1024 * 1024,
});
var api = new FleetService.FleetServiceClient(apiChannel);
var counters = new Counters();
var hosts = new List<SimHost>(hostCount);
void Say(string text) => Console.Error.WriteLine($"[fleetsim {DateTime.Now:HH:mm:ss}] {text}");

await using var sampler = new ProcessSampler(controllerPid);
using var heartbeats = new CancellationTokenSource();
var beating = new List<Task>(hostCount);
var mq = new ConnectionFactory
{
    HostName = Opt("mq-host", "127.0.0.1"),
    Port = Int("mq-port", "5672", 1, 65535),
    VirtualHost = vhost,
    UserName = Opt("mq-user", "odoofleet"),
    Password = mqPassword,
};
await using var consumer = new BrokerConsumer(mq, connections: 4, channelsPerConnection: 4);
try
{
    // ---------------------------------------------------------------- setup (not measured)
    var pinToken = await api.CreateEnrollmentTokenAsync(new CreateEnrollmentTokenRequest { TtlSeconds = 60 }, auth, cancellationToken: ct);
    using var ca = await FleetTls.FetchPinnedCaAsync(agentUrl, pinToken.CaSha256, ct);
    using var enrollChannel = GrpcChannel.ForAddress(agentUrl, new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, c, _, _) => FleetTls.IsIssuedByFleetCa(c, ca) },
        },
    });
    var enroller = new Enroller(api, auth, enrollChannel, agentUrl, ca);
    // An agent's life starts so: enroll, fetch its spec and report it, then heartbeat for good.
    var setup = Stopwatch.StartNew();
    var names = Enumerable.Range(1, hostCount).Select(i => $"sim-{i:D5}").ToList();
    var enrolled = new SimHost[hostCount];
    var ready = 0;
    await Parallel.ForEachAsync(Enumerable.Range(0, hostCount), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (i, token) =>
    {
        var host = enrolled[i] = await enroller.EnrollAsync(names[i], token);
        await host.ConvergeAsync(counters, token);
        lock (beating)
        {
            beating.Add(Task.Run(() => host.HeartbeatAsync(counters, heartbeats.Token), CancellationToken.None));
        }

        if (Interlocked.Increment(ref ready) % 250 == 0)
        {
            Say($"enrolled, converged and heartbeating: {ready}/{hostCount}");
        }
    });
    hosts.AddRange(enrolled);
    var enrollSeconds = setup.Elapsed.TotalSeconds;
    Say($"{hostCount} hosts enrolled (own key, CSR and client certificate each) and converged in {enrollSeconds:0.0} s");

    // Commands queued before the consumer starts (none are expected) are handled like any other.
    var signing = enroller.Signing ?? throw new InvalidOperationException("no enrollment returned a command signing key");
    await consumer.StartAsync(hosts, signing, counters, ct);
    Say($"consuming {hostCount} host queues with the admin broker user over 4 connections x 4 channels (the simulator's one shortcut)");
    setup.Restart();
    await WaitAsync("every host online and converged", phaseTimeout, async () =>
    {
        var listed = await api.ListHostsAsync(new ListHostsRequest(), auth, cancellationToken: ct);
        var ours = listed.Hosts.Where(h => h.Name.StartsWith("sim-", StringComparison.Ordinal)).ToList();
        return ours.Count == hostCount && ours.All(h => h.State == HostState.Online && h.AppliedGeneration >= h.DesiredGeneration);
    }, TimeSpan.FromSeconds(1), ct);
    var warmSeconds = setup.Elapsed.TotalSeconds;
    Say($"all {hostCount} hosts listed online and converged ({warmSeconds:0.0} s later)");

    // ---------------------------------------------------------------- baseline: one plain converge round
    var phases = new List<PhaseResult>();
    var baseline = Phase.Begin("converge round (ConfigureHost)", sampler, counters);
    var targets = new long[hostCount];
    await Parallel.ForEachAsync(Enumerable.Range(0, hostCount), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (i, token) =>
    {
        var answer = await api.ConfigureHostAsync(new ConfigureHostRequest { Id = hosts[i].Id, Workers = 2 }, auth, cancellationToken: token);
        targets[i] = answer.Host.DesiredGeneration;
    });
    await WaitAsync("every host reporting its new generation", phaseTimeout, () =>
        Task.FromResult(hosts.Select((h, i) => h.ReportedGeneration >= targets[i]).All(x => x)), TimeSpan.FromMilliseconds(20), ct);
    phases.Add(baseline.End(counters.LastReportTimestamp));
    Say($"baseline: {phases[^1].WallSeconds:0.00} s");

    // ---------------------------------------------------------------- rollout
    var rolloutPhase = Phase.Begin($"rollout to {series} (batch {batch}, canary {canary})", sampler, counters);
    var rollout = await api.StartRolloutAsync(new StartRolloutRequest { Series = series, Batch = batch, Canary = canary }, auth, cancellationToken: ct);
    Say($"rollout {rollout.Id} of {rollout.Release.Series}@{rollout.Release.Commit[..12]} started");
    // Polled without its hosts (ListRollouts) where the controller has it, so 5,000 host rows are
    // not serialized four times a second inside the measurement; GetRollout otherwise. A failed poll
    // (e.g. the rollout grain too busy to answer in time) is counted and retried, as a watcher would.
    var light = true;
    var pollErrors = 0;
    await WaitAsync("the rollout to finish", phaseTimeout, async () =>
    {
        try
        {
            var state = light
                ? (await api.ListRolloutsAsync(new ListRolloutsRequest { Limit = 5 }, auth, cancellationToken: ct)).Rollouts.FirstOrDefault(r => r.Id == rollout.Id)?.State
                : (await api.GetRolloutAsync(new GetRolloutRequest { Id = rollout.Id }, auth, cancellationToken: ct)).State;
            return state is not (null or RolloutState.Running or RolloutState.Unspecified);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented && light)
        {
            light = false;
            return false;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unknown or StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.Internal)
        {
            Say($"polling the rollout failed, retrying: {e.StatusCode} {e.Status.Detail}");
            pollErrors++;
            return false;
        }
    }, TimeSpan.FromMilliseconds(250), ct);
    var rolled = rolloutPhase.End(Stopwatch.GetTimestamp());
    phases.Add(rolled);
    var final = await api.GetRolloutAsync(new GetRolloutRequest { Id = rollout.Id }, auth, cancellationToken: ct);
    var hostStates = final.Hosts.GroupBy(h => h.State).ToDictionary(g => g.Key.ToString(), g => g.Count());
    Say($"rollout {final.State}: {rolled.WallSeconds:0.00} s ({final.Message})");
    var wrong = hosts.Count(h => !rollout.Release.Equals(h.Running));
    var result = new RunResult(
        hostCount, enrollSeconds, warmSeconds, final.State.ToString(), final.Message, final.Batches.Count, hostStates, wrong,
        counters.Rejected, counters.RpcErrors, pollErrors, phases,
        "commands of all host queues consumed with the stack's admin broker user over 4 AMQP connections (real agents: one connection and user each)");
    await File.WriteAllTextAsync(outFile, JsonSerializer.Serialize(result, JsonOut.Options), ct);
    if (final.State != RolloutState.Succeeded || wrong > 0 || counters.Rejected > 0)
    {
        Console.Error.WriteLine($"fleetsim: rollout {final.State}, {wrong} host(s) not running {rollout.Release.Series}@{rollout.Release.Commit}, {counters.Rejected} command(s) rejected");
        return 1;
    }

    return 0;
}
catch (Exception e) when (e is RpcException or TimeoutException or InvalidOperationException or HttpRequestException or OperationCanceledException
    or RabbitMQ.Client.Exceptions.BrokerUnreachableException)
{
    Console.Error.WriteLine($"fleetsim: {e.GetType().Name}: {e.Message}");
    return 1;
}
finally
{
    await heartbeats.CancelAsync();
    await Task.WhenAll(beating);
    foreach (var host in hosts)
    {
        host.Dispose();
    }
}

static async Task WaitAsync(string what, TimeSpan timeout, Func<Task<bool>> done, TimeSpan poll, CancellationToken ct)
{
    var deadline = Stopwatch.StartNew();
    while (!await done())
    {
        if (deadline.Elapsed > timeout)
        {
            throw new TimeoutException($"waited {timeout.TotalSeconds:0} s for {what}");
        }

        await Task.Delay(poll, ct);
    }
}
