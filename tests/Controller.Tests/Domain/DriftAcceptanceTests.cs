using OdooFleet.Controller.Domain;
using Xunit;

namespace OdooFleet.Controller.Tests.Domain;

public sealed class DriftAcceptanceTests
{
    private static DriftPatch[] Patches(string spec) =>
        [.. spec.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => new DriftPatch(p[..p.IndexOf('=', StringComparison.Ordinal)], p[(p.IndexOf('=', StringComparison.Ordinal) + 1)..]))];

    [Theory]
    // patches as path=value, expected change fields
    [InlineData("odoo.workers=3", "workers=3")]
    [InlineData("odoo.max_cron_threads=2", "cron=2")]
    [InlineData("odoo.log_level=warn", "log=warn")]
    [InlineData("odoo.options.limit_time_cpu=900 odoo.options.smtp_server=mail.example.com", "option:limit_time_cpu=900 option:smtp_server=mail.example.com")]
    [InlineData("postgres.settings.work_mem=64MB odoo.workers=2", "workers=2 pg:work_mem=64MB")]
    public void ToChange_WellFormedProposal_ProfileChangeSettingExactlyThose(string patches, string expected)
    {
        var (change, errors) = DriftAcceptance.ToChange(Patches(patches));

        Assert.Empty(errors);
        Assert.NotNull(change);
        var fields = new List<string>();
        if (change.Workers is { } w) fields.Add($"workers={w}");
        if (change.MaxCronThreads is { } c) fields.Add($"cron={c}");
        if (change.LogLevel is { } l) fields.Add($"log={l}");
        fields.AddRange((change.SetOptions ?? []).OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"option:{o.Key}={o.Value}"));
        fields.AddRange((change.SetPostgresSettings ?? []).Select(o => $"pg:{o.Key}={o.Value}"));
        Assert.Equal(expected, string.Join(" ", fields));
        Assert.Empty(ProfileRules.Validate(change));
    }

    [Theory]
    [InlineData("odoo.workers=-1", "odoo.workers: the observed value '-1' is not a whole number of workers")]
    [InlineData("odoo.max_cron_threads=0", "odoo.max_cron_threads: the observed value is 0, which the spec cannot hold")]
    [InlineData("odoo.log_level=", "odoo.log_level: the observed value is empty")]
    [InlineData("odoo.http_port=9000", "accept[0].path: 'odoo.http_port' is not a spec path")]
    [InlineData("postgres.settings.Work_Mem=1", "accept[0].path: 'postgres.settings.Work_Mem' is not a spec path")]
    [InlineData("odoo.workers=2 odoo.workers=3", "accept[1].path: 'odoo.workers' is given more than once")]
    public void ToChange_MalformedProposal_ErrorNamesThePath(string patches, string expected)
    {
        var (change, errors) = DriftAcceptance.ToChange(Patches(patches));

        Assert.Null(change);
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void CheckProposal_ValueWithLineBreak_ErrorNamesTheValue()
    {
        Assert.Equal(
            "events[0].accept[0].value: must be one line of at most 1024 characters without control characters",
            DriftAcceptance.CheckProposal([new DriftPatch("odoo.options.email_from", "a\nlist_db = True")], "events[0].accept"));
        Assert.Null(DriftAcceptance.CheckProposal([], "events[0].accept"));
    }

    [Theory]
    [InlineData("work_mem", "64MB", null)]
    [InlineData("port", "5433", "postgres.settings.port: is how the agent reaches the cluster")]
    [InlineData("unix_socket_directories", "/tmp", "postgres.settings.unix_socket_directories: is how the agent reaches the cluster")]
    [InlineData("Work-Mem", "1", "postgres.settings: 'Work-Mem' is not a setting name")]
    [InlineData("work_mem", "", "postgres.settings.work_mem: '' must be 1-1024 characters")]
    public void ProfileRulesValidate_PostgresSettingOverride_NameAndValueChecked(string name, string value, string? expected)
    {
        var errors = ProfileRules.Validate(new ProfileChange { SetPostgresSettings = new() { [name] = value } });

        if (expected is null)
        {
            Assert.Empty(errors);
        }
        else
        {
            Assert.StartsWith(expected, Assert.Single(errors), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ProfileRulesApply_PostgresSettingsMerged_SameAgainIsEquivalent()
    {
        var defaults = new ProfileDefaults(null, "info", 5, 600, 3600);
        var change = new ProfileChange { SetPostgresSettings = new() { ["work_mem"] = "64MB" } };

        var (first, errors) = ProfileRules.Apply(HostProfile.Default, change, defaults);
        var (second, _) = ProfileRules.Apply(first!, change, defaults);
        var (third, _) = ProfileRules.Apply(second!, new ProfileChange { SetPostgresSettings = new() { ["random_page_cost"] = "1.1" } }, defaults);

        Assert.Empty(errors);
        Assert.Equal("64MB", first!.PostgresSettings["work_mem"]);
        Assert.False(first.IsEquivalentTo(HostProfile.Default));
        Assert.True(second!.IsEquivalentTo(first));
        Assert.Equal(["random_page_cost", "work_mem"], third!.PostgresSettings.Keys);
    }
}
