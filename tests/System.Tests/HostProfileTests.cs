using System.Text.Json;
using OdooFleet.SystemTests.Infrastructure;

namespace OdooFleet.SystemTests;

/// <summary>`fleet host configure` and `fleet host plan` against an enrolled test host: the controller stores, the agent computes and converges.</summary>
[Collection(StackGroup.Name)]
public sealed class HostProfileTests(LiveFleet stack)
{
    private const string Host = "th1";
    private const string Domain = "erp-th1.odoofleet.test";
    private static readonly TimeSpan ConvergeDeadline = TimeSpan.FromMinutes(8);

    private static async Task<JsonElement> ConvergedAsync() =>
        (await Eventually.UntilAsync(
            async () => (JsonElement?)await LiveFleet.FleetJsonAsync("host", "show", Host),
            h => h is { } host && host.GetProperty("appliedGeneration").GetInt64() == host.GetProperty("desiredGeneration").GetInt64()
                 && host.GetProperty("lastConvergeSuccess").GetBoolean(),
            ConvergeDeadline, $"{Host} converged to its desired generation"))!.Value;

    [Fact]
    public async Task Plan_ConvergedHost_AgentExplainsTheSizingAndWouldChangeNothing()
    {
        await ConvergedAsync();

        var plan = await LiveFleet.FleetJsonAsync("host", "plan", Host);

        Assert.True(plan.GetProperty("success").GetBoolean(), plan.ToString());
        Assert.Equal(0, plan.GetProperty("changes").GetInt32());
        var explanation = plan.GetProperty("explanation").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(explanation, line => line.StartsWith("workers = min(2 × ", StringComparison.Ordinal));
        Assert.Contains(explanation, line => line.StartsWith("shared_buffers = ", StringComparison.Ordinal));
        Assert.NotNull(stack);
    }

    [Fact]
    public async Task Configure_Domain_ConvergedIntoNginxAndCertificateThenIdenticalConfigureIsNoOp()
    {
        var before = await ConvergedAsync();
        try
        {
            var configured = await LiveFleet.FleetJsonAsync("host", "configure", Host, "--domain", Domain);
            Assert.True(configured.GetProperty("changed").GetBoolean(), configured.ToString());
            var generation = configured.GetProperty("host").GetProperty("desiredGeneration").GetInt64();
            Assert.Equal(before.GetProperty("desiredGeneration").GetInt64() + 1, generation);

            await ConvergedAsync();
            var site = await LiveFleet.OnHostAsync(Host, "grep", "-c", $"server_name {Domain};", "/etc/nginx/sites-available/odoo");
            Assert.NotEqual("0", site.Stdout.Trim());
            var cert = await LiveFleet.OnHostAsync(Host, "cat", "/etc/ssl/odoofleet/odoo.crt");
            var ca = Path.Combine(Path.GetTempPath(), $"odoofleet-th1-{Environment.ProcessId}.pem");
            await File.WriteAllTextAsync(ca, cert.Stdout, TestContext.Current.CancellationToken);
            try
            {
                // The certificate verifies for the new name (nginx answers; Odoo may or may not run yet).
                var https = await Proc.RunAsync(
                    "curl", ["-sS", "-o", "/dev/null", "--max-time", "10", "--cacert", ca, "--resolve", $"{Domain}:443:10.231.0.11", $"https://{Domain}/web/login"],
                    TimeSpan.FromSeconds(30));
                Assert.True(https.ExitCode == 0, https.Describe());
            }
            finally
            {
                File.Delete(ca);
            }

            var again = await LiveFleet.FleetJsonAsync("host", "configure", Host, "--domain", Domain);
            Assert.False(again.GetProperty("changed").GetBoolean());
            Assert.Equal(generation, again.GetProperty("host").GetProperty("desiredGeneration").GetInt64());
        }
        finally
        {
            await LiveFleet.FleetAsync("host", "configure", Host, "--clear-domains");
            await ConvergedAsync();
        }
    }

    [Fact]
    public async Task Configure_HostileDomain_RefusedAndNothingChanges()
    {
        var before = await LiveFleet.FleetJsonAsync("host", "show", Host);

        var r = await LiveFleet.FleetAsync("host", "configure", Host, "--domain", "evil.test;\n}");

        Assert.Equal(2, r.ExitCode);
        Assert.Contains("domain", r.Stderr, StringComparison.OrdinalIgnoreCase);
        var after = await LiveFleet.FleetJsonAsync("host", "show", Host);
        Assert.Equal(before.GetProperty("desiredGeneration").GetInt64(), after.GetProperty("desiredGeneration").GetInt64());
    }
}
