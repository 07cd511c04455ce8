using System.Collections.Concurrent;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// The nginx site under hostile domains (primary and aliases, with and without single-label names):
/// refused with errors naming the field, or rendered with the same skeleton as a benign site of the
/// same shape (same lines, directives, braces and semicolons), every server_name token a DNS name;
/// a sample of accepted sites goes through the real `nginx -t`.
/// </summary>
public sealed class NginxSiteFuzzTests
{
    private const int Inputs = 10_000;
    private const int ThroughNginx = 100;

    private sealed record Case(string[] Names, bool SingleLabel);

    private static readonly Gen<Case> Cases = Gen.Select(
        Hostile.Around(Gen.Frequency<string>((4, Valid.Domain), (1, Valid.Label))).Array[1, 4], Gen.Bool, (names, single) => new Case(names, single));

    private static NginxSiteSpec Spec(string[] names, bool singleLabel) =>
        new(names[0], [.. names.Skip(1)], 8069, 8072, "/etc/ssl/odoofleet/odoo.crt", "/etc/ssl/odoofleet/odoo.key", "/var/www/odoofleet-acme")
        {
            AllowSingleLabelNames = singleLabel,
        };

    /// <summary>Same labels and lengths, harmless letters: the benign twin renders the same skeleton (the hash bucket line depends on length).</summary>
    private static string[] Twin(string[] names) =>
        [.. names.Select((name, i) => (char)('c' + i) + new string([.. name.Skip(1).Select(c => c == '.' ? '.' : 'b')]))];

    /// <summary>The file without its names: each line's first word, and the counts of '{', '}', ';'.</summary>
    private static (string Directives, int Open, int Close, int Semicolons, int Lines) Skeleton(string text) => (
        string.Join(",", text.Split('\n').Select(line => line.TrimStart().Split(' ')[0])),
        text.Count(c => c == '{'), text.Count(c => c == '}'), text.Count(c => c == ';'), text.Count(c => c == '\n'));

    [Fact]
    public async Task Render_HostileNames_RefusedByFieldOrSameSkeletonAsBenign()
    {
        var tally = new FuzzTally("NginxSiteRenderer.Render");
        var forNginx = new ConcurrentQueue<string[]>();
        Cases.Sample(
            c =>
            {
                var input = string.Join(" ", c.Names);
                string text;
                try
                {
                    text = NginxSiteRenderer.Render(Spec(c.Names, c.SingleLabel));
                }
                catch (SpecValidationException e)
                {
                    tally.Require(e.Errors.All(error => (error.StartsWith("nginx.primary_domain: ", StringComparison.Ordinal) || error.StartsWith("nginx.aliases", StringComparison.Ordinal))
                        && Oracle.IsOneLine(error)), input, $"refused without naming the field: {string.Join(" | ", e.Errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(c.Names.All(n => Oracle.IsDnsName(n, c.SingleLabel ? 1 : 2)), input, "accepted a name outside the DNS grammar");
                tally.Require(text.All(ch => ch == '\n' || !Grammar.IsLineBreakOrControl(ch)), input, "control character in the file");
                var benign = NginxSiteRenderer.Render(Spec(Twin(c.Names), c.SingleLabel));
                tally.Require(Skeleton(text) == Skeleton(benign), input, "the file's structure differs from a benign site's");
                foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("server_name ", StringComparison.Ordinal)))
                {
                    var tokens = line["server_name ".Length..^1].Split(' ');
                    tally.Require(line.EndsWith(';') && tokens.All(t => Oracle.IsDnsName(t, 1)), input, $"server_name line {line}");
                }

                if (forNginx.Count < ThroughNginx && c.Names.Any(n => n.Contains('-', StringComparison.Ordinal) || n.Length > 40))
                {
                    forNginx.Enqueue(c.Names);
                }
            },
            iter: Inputs,
            print: c => string.Join(" ", c.Names.Select(FuzzTally.Show)));

        await ThroughNginxAsync([.. forNginx.Take(ThroughNginx)]);
        tally.Report();
    }

    /// <summary>Accepted sites (inner hyphens, long names: what nginx's parser and hash could trip on) through `nginx -t`.</summary>
    private static async Task ThroughNginxAsync(IReadOnlyList<string[]> sites)
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("nginx"), "nginx is not installed");
        var ct = TestContext.Current.CancellationToken;
        using var root = new TempDirectory();
        foreach (var dir in new[] { "etc/nginx/sites-available", "etc/ssl/odoofleet", "var/log/nginx", "var/cache/nginx/odoofleet", "var/www/acme" })
        {
            Directory.CreateDirectory(root.Combine(dir.Split('/')));
        }

        var paths = new HostPaths(root.Path);
        var runner = new ProcessCommandRunner();

        // One certificate for every site: nginx -t loads it but does not match its names to server_name.
        var tls = new TlsCertificateResource(paths, runner, TimeProvider.System,
            new TlsCertificateSpec(["fuzz.example.com"], "/etc/ssl/odoofleet/odoo.crt", "/etc/ssl/odoofleet/odoo.key"), ownership: null);
        var engine = new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);
        var made = await engine.RunAsync([tls], ConvergeMode.Apply, ct);
        Assert.True(made.Success, made.Error);

        var validator = new NginxValidator(runner, "/etc/nginx/sites-available/odoo");
        var file = paths.Resolve("/etc/nginx/sites-available/odoo");
        foreach (var names in sites)
        {
            var site = new NginxSiteSpec(names[0], [.. names.Skip(1)], 8069, 8072,
                paths.Resolve("/etc/ssl/odoofleet/odoo.crt"), paths.Resolve("/etc/ssl/odoofleet/odoo.key"), paths.Resolve("/var/www/acme"))
            {
                AllowSingleLabelNames = true,
                LogDirectory = paths.Resolve("/var/log/nginx"),
                CacheDirectory = paths.Resolve("/var/cache/nginx/odoofleet"),
            };
            await File.WriteAllTextAsync(file, NginxSiteRenderer.Render(site), ct);
            await validator.ValidateAsync(file, ct);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"nginx -t accepted {sites.Count} sites rendered from accepted hostile-sample names");
    }
}
