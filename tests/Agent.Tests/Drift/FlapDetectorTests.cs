using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Drift;

namespace OdooFleet.Agent.Tests.Drift;

public sealed class FlapDetectorTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    /// <summary>History as "c@SECONDS" (corrected) or "d@SECONDS" (found, not corrected), seconds after Start.</summary>
    private static List<DriftDetection> History(string spec) =>
        spec.Length == 0
            ? []
            : spec.Split(' ').Select(e => new DriftDetection(Start.AddSeconds(int.Parse(e[2..], System.Globalization.CultureInfo.InvariantCulture)), e[0] == 'c')).ToList();

    [Theory]
    // history, now (s), flapping, may correct, next correction (s, -1 = none), recurred
    [InlineData("", 0, false, true, -1, false)]                          // first drift
    [InlineData("c@0", 60, false, true, -1, true)]                       // second correction
    [InlineData("c@0 c@60", 120, true, true, -1, true)]                  // third within 10 min: flapping starts, this one is corrected
    [InlineData("c@0 c@60 c@120", 130, true, false, 180, true)]          // then backs off 1 min after the last correction
    [InlineData("c@0 c@60 c@120", 180, true, true, -1, true)]            // 1 min passed: correct once
    [InlineData("c@0 c@60 c@120 c@180", 200, true, false, 300, true)]    // next pause 2 min
    [InlineData("c@0 c@60 c@120 c@180 c@300", 400, true, false, 540, true)] // then 4 min
    [InlineData("c@0 c@60 c@120 d@130 d@150", 170, true, false, 180, true)] // drifts found while backing off do not move the clock
    [InlineData("c@0 c@300", 599, true, true, -1, true)]                 // 3 within 599 s (< 10 min)
    [InlineData("c@0 c@300", 600, false, true, -1, true)]                // the first fell out of the window
    [InlineData("c@0 c@60 c@120", 720, false, true, -1, false)]          // quiet for 10 min: cleared
    [InlineData("c@0 c@60 c@120 c@1000 c@1060", 1100, true, true, -1, true)] // a new episode counts from zero again
    [InlineData("c@0 c@60 c@120 c@1000", 1100, false, true, -1, true)]
    [InlineData("d@0 d@60 d@120", 180, false, true, -1, true)]           // reported, never corrected: never flapping
    public void Decide_Table(string history, int now, bool flapping, bool mayCorrect, int next, bool recurred)
    {
        var decision = FlapDetector.Decide(History(history), Start.AddSeconds(now), FlapSettings.Default);

        Assert.Equal(flapping, decision.Flapping);
        Assert.Equal(mayCorrect, decision.MayCorrect);
        Assert.Equal(next < 0 ? null : Start.AddSeconds(next), decision.NextCorrectionAt);
        Assert.Equal(recurred, decision.Recurred);
    }

    [Theory]
    [InlineData(0, 60)]
    [InlineData(1, 120)]
    [InlineData(2, 240)]
    [InlineData(5, 1920)]
    [InlineData(6, 3600)]   // 64 min capped at 1 h
    [InlineData(40, 3600)]
    public void Backoff_DoublesUpToOneHour(int since, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), FlapDetector.Backoff(since, FlapSettings.Default));

    [Fact]
    public void Decide_RewrittenEverySecondForAnHour_CorrectionsStayBounded()
    {
        var time = new FakeTimeProvider(Start);
        var history = new List<DriftDetection>();
        for (var second = 0; second < 3600; second++)
        {
            var decision = FlapDetector.Decide(history, time.GetUtcNow(), FlapSettings.Default);
            FlapDetector.Record(history, new DriftDetection(time.GetUtcNow(), decision.MayCorrect), FlapSettings.Default);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        // 3 to start flapping, then after 1, 2, 4, 8, 16 and 32 minutes (63 min > 1 h ends the hour).
        Assert.Equal(8, history.Count(h => h.Corrected));
        // Drifts found while backing off are compacted: a few entries per quiet window, not 3600.
        Assert.InRange(history.Count, 8, 40);
    }
}
