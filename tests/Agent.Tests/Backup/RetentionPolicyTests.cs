using OdooFleet.Agent.Backup;

namespace OdooFleet.Agent.Tests.Backup;

/// <summary>The GFS rule itself: which snapshot times a policy keeps.</summary>
public sealed class RetentionPolicyTests
{
    private static readonly DateTimeOffset Monday = new(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Keep_SeveralSnapshotsPerDay_KeepsTheNewestOfEachOfTheLastDays()
    {
        var policy = new RetentionPolicy(Daily: 2, Weekly: 0, Monthly: 0);
        DateTimeOffset[] times = [Monday, Monday.AddHours(5), Monday.AddDays(1), Monday.AddDays(1).AddHours(1), Monday.AddDays(2).AddHours(-1)];

        var kept = policy.Keep(times);

        Assert.Equal([Monday.AddDays(1).AddHours(1), Monday.AddDays(2).AddHours(-1)], kept.Order());
    }

    [Fact]
    public void Keep_GapsBetweenDays_CountsOnlyDaysThatHaveSnapshots()
    {
        var policy = new RetentionPolicy(Daily: 3, Weekly: 0, Monthly: 0);
        DateTimeOffset[] times = [Monday, Monday.AddDays(10), Monday.AddDays(20), Monday.AddDays(40)];

        var kept = policy.Keep(times);

        Assert.Equal(times[1..], kept.Order());
    }

    [Fact]
    public void Keep_IsoWeekAcrossNewYear_1January2027IsInWeek53Of2026()
    {
        var policy = new RetentionPolicy(Daily: 0, Weekly: 2, Monthly: 0);
        var sunday27 = new DateTimeOffset(2026, 12, 27, 12, 0, 0, TimeSpan.Zero);
        DateTimeOffset[] times = [sunday27.AddDays(-1), sunday27, sunday27.AddDays(2), sunday27.AddDays(5)];

        var kept = policy.Keep(times);

        // Mon Dec 28 .. Sun Jan 3 is ISO week 53 of 2026 (week 1 of 2027 holds Thursday Jan 7):
        // Dec 29 and Jan 1 share it, so Jan 1 is its newest; the week before ends on Sunday the 27th.
        Assert.Equal([sunday27, sunday27.AddDays(5)], kept.Order());
    }

    [Fact]
    public void Keep_BucketsOverlap_ASnapshotKeptByTwoBucketsCountsInBoth()
    {
        var policy = new RetentionPolicy(Daily: 1, Weekly: 1, Monthly: 2);
        DateTimeOffset[] times = [Monday.AddDays(-5), Monday, Monday.AddDays(1)];

        var kept = policy.Keep(times);

        // Daily, weekly and March all keep Mar 3; February's newest (Feb 25) is the second month.
        Assert.Equal([Monday.AddDays(-5), Monday.AddDays(1)], kept.Order());
    }

    [Fact]
    public void Keep_NoSnapshots_KeepsNothing() => Assert.Empty(RetentionPolicy.Default.Keep([]));

    [Fact]
    public void Default_Is7Daily4Weekly3Monthly_AsResticOptions()
    {
        Assert.Equal(["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "3"], RetentionPolicy.Default.ForgetArguments());
        Assert.Empty(RetentionPolicy.Default.Validate());
        Assert.Equal(["--keep-monthly", "12"], new RetentionPolicy(0, 0, 12).ForgetArguments());
    }

    [Theory]
    [InlineData(-1, 4, 3, "backup.retention.daily: -1 must be between 0 and 10000")]
    [InlineData(7, 10_001, 3, "backup.retention.weekly: 10001 must be between 0 and 10000")]
    [InlineData(0, 0, 0, "backup.retention: daily, weekly and monthly are all 0")]
    public void Validate_BadBuckets_NamesTheField(int daily, int weekly, int monthly, string expected)
    {
        var error = Assert.Single(new RetentionPolicy(daily, weekly, monthly).Validate());

        Assert.StartsWith(expected, error, StringComparison.Ordinal);
    }
}
