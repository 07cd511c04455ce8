using System.Text.Json;
using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.EndToEnd;

/// <summary>`fleet events` and `fleet events --follow` against a real in-process gRPC server.</summary>
public sealed class EventsCommandTests
{
    private static readonly DateTimeOffset Now = Samples.Now;

    [Fact]
    public async Task Events_Filters_MappedAndTableWithCompactData()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Events.Add(Event(1, "RolloutStarted", -10, """{ "release": "18.0@3f2a9c1d",  "hosts": 4 }"""));

        var result = await CliRun.RunAsync(
            ["--controller", controller.Address, "events", "--since", "2h", "--type", "Rollout", "--subject", "r-abc123", "--limit", "50"],
            time: new FakeTimeProvider(Now));

        Assert.True(result.ExitCode == 0, result.ToString());
        var sent = Assert.IsType<ListEventsRequest>(Assert.Single(controller.Service.Requests));
        Assert.Equal(("Rollout", "r-abc123", 50), (sent.TypePrefix, sent.Subject, sent.Limit));
        Assert.Equal(Now.AddHours(-2), sent.Since.ToDateTimeOffset());
        var row = result.Out.Split('\n').Single(l => l.Contains("RolloutStarted", StringComparison.Ordinal));
        Assert.Contains("2025-06-01T11:50:00Z", row, StringComparison.Ordinal);
        Assert.Contains("r-abc123", row, StringComparison.Ordinal);
        Assert.Contains("""{"release":"18.0@3f2a9c1d","hosts":4}""", row, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Events_Json_DataEmbeddedAsJson()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Events.Add(Event(7, "RolloutCompleted", -1, """{"status":"SUCCEEDED"}"""));
        controller.Service.Events.Add(Event(8, "HostEnrolled", 0, "not json"));

        var result = await CliRun.RunAsync(["--controller", controller.Address, "events", "-o", "json"], time: new FakeTimeProvider(Now));

        Assert.True(result.ExitCode == 0, result.ToString());
        using var doc = JsonDocument.Parse(result.Out);
        var first = doc.RootElement[0];
        Assert.Equal(["id", "type", "subject", "data", "occurredAt"], first.EnumerateObject().Select(p => p.Name));
        Assert.Equal("SUCCEEDED", first.GetProperty("data").GetProperty("status").GetString());
        Assert.Equal("not json", doc.RootElement[1].GetProperty("data").GetString());
        Assert.Null(Assert.IsType<ListEventsRequest>(controller.Service.Requests.Single()).Since);
    }

    [Fact]
    public async Task Follow_EventsStoredLate_EachShownOnceUntilCtrlC()
    {
        await using var controller = await TestController.StartAsync();
        var service = controller.Service;
        service.Events.AddRange([Event(1, "RolloutStarted", -10), Event(2, "RolloutBatchStarted", -5)]);
        var time = new TimerSignallingTimeProvider(Now);
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        using var output = new StringWriter();
        using var error = new StringWriter();
        var run = Program.RunAsync(
            ["--controller", controller.Address, "events", "--type", "Rollout", "--follow"],
            new CliHost { Out = output, Err = error, Environment = new Dictionary<string, string?>(), Time = time, ReconnectDelay = _ => TimeSpan.Zero },
            interrupt.Token);

        var firstPoll = await NextAsync(service.EventPolls);
        await NextAsync(time.Timers);
        lock (service.Events)
        {
            // Id 3 is stored after id 2 but occurred before it (another controller, a later commit).
            service.Events.AddRange([Event(3, "RolloutStepSucceeded", -5.5), Event(4, "RolloutStepReverted", -4), Event(5, "HostEnrolled", -3)]);
        }

        time.Advance(EventPollInterval);
        var secondPoll = await NextAsync(service.EventPolls);
        await NextAsync(time.Timers);
        interrupt.Cancel();
        var exitCode = await run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        Assert.Equal(ExitCodes.Interrupted, exitCode);
        Assert.Equal(("Rollout", 0, null), (firstPoll.TypePrefix, firstPoll.Limit, firstPoll.Since));
        Assert.Equal(("Rollout", 10_000), (secondPoll.TypePrefix, secondPoll.Limit));
        Assert.Equal(Now.AddMinutes(-5).AddMinutes(-1), secondPoll.Since.ToDateTimeOffset());
        Assert.Equal(
            ["RolloutStarted", "RolloutBatchStarted", "RolloutStepSucceeded", "RolloutStepReverted"],
            output.ToString().TrimEnd('\n').Split('\n').Select(l => l.Split("  ")[1]));
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public async Task Follow_Json_OneCompactObjectPerLine()
    {
        await using var controller = await TestController.StartAsync();
        controller.Service.Events.AddRange([Event(1, "RolloutStarted", -2, """{"hosts": 4}"""), Event(2, "RolloutCompleted", -1, """{"status": "SUCCEEDED"}""")]);
        var time = new TimerSignallingTimeProvider(Now);
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        using var output = new StringWriter();
        var run = Program.RunAsync(
            ["--controller", controller.Address, "events", "-f", "-o", "json"],
            new CliHost { Out = output, Err = TextWriter.Null, Environment = new Dictionary<string, string?>(), Time = time },
            interrupt.Token);

        await NextAsync(time.Timers);
        interrupt.Cancel();
        await run.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

        var lines = output.ToString().TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.Equal("""{"id":1,"type":"RolloutStarted","subject":"r-abc123","data":{"hosts":4},"occurredAt":"2025-06-01T11:58:00Z"}""", lines[0]);
        Assert.Equal("SUCCEEDED", JsonDocument.Parse(lines[1]).RootElement.GetProperty("data").GetProperty("status").GetString());
    }

    private static readonly TimeSpan EventPollInterval = TimeSpan.FromSeconds(2);

    private static FleetEventRecord Event(long id, string type, double minutes, string data = "{}") => new()
    {
        Id = id,
        Type = type,
        Subject = "r-abc123",
        DataJson = data,
        OccurredAt = Timestamp.FromDateTimeOffset(Now.AddMinutes(minutes)),
    };

    private static async Task<T> NextAsync<T>(Channel<T> channel) =>
        await channel.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);

    /// <summary>A fake clock that says when a timer was created, so the test advances time only once the poll waits on it.</summary>
    private sealed class TimerSignallingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
    {
        public Channel<TimeSpan> Timers { get; } = Channel.CreateUnbounded<TimeSpan>();

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            var timer = base.CreateTimer(callback, state, dueTime, period);
            Timers.Writer.TryWrite(dueTime);
            return timer;
        }
    }
}
