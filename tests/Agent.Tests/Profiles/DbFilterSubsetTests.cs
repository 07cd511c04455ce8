using System.Text.Json;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Tests.Profiles;

public sealed class DbFilterSubsetTests
{
    private static readonly string[] AcceptedFilters =
    [
        "^%d$", "^%h$", "^acme$", "^(?:acme|beta-2)$", "^acme_[0-9]+$", "^[a-z]+_prod$", "^[^.]+$",
        "^acme\\.prod$", "^tenant_\\d{2,4}$", "^(a|b)*c$", "^x+?$", "^a{3}$", "^a{3,}$", ".*", "^%d_[\\w-]+$",
    ];

    public static readonly TheoryData<string> Accepted = [.. AcceptedFilters];

    public static readonly TheoryData<string, string> Refused = new()
    {
        { "^*acme$", "nothing before it to repeat" },
        { "^(?:*a)$", "nothing before it to repeat" },
        { "^a|*b$", "nothing before it to repeat" },
        { "^a**$", "multiple repeat" },
        { "^a+?+$", "multiple repeat" },
        { "^(?<n>a)$", "group extension" },
        { "^(?i)a$", "group extension" },
        { "^\\p{L}$", "escape" },
        { "^[[:alpha:]]$", "character class" },
        { "^[z-a]$", "character class" },
        { "^[\\d-9]$", "character class" },
        { "^a{$", "quantifier {m}" },
        { "^a{,3}$", "quantifier {m}" },
        { "^a b$", "uses ' '" },
        { "^a'b$", "uses '''" },
        { "^(a$", "group(s) open" },
        { "^a)$", "never opened" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void Problem_InsideTheSubset_None(string filter) => Assert.Null(DbFilterSubset.Problem(filter));

    [Theory]
    [MemberData(nameof(Refused))]
    public void Problem_OutsideTheSubset_NamesWhatAndWhere(string filter, string expected)
    {
        var problem = DbFilterSubset.Problem(filter);
        Assert.NotNull(problem);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
        Assert.Contains("position", problem, StringComparison.Ordinal);
    }

    /// <summary>
    /// The point of the subset: everything it accepts compiles with Python's re (Odoo's), after
    /// Odoo's %d/%h substitution; checked against the real interpreter, with every one-character
    /// mutation of the accepted examples as extra input.
    /// </summary>
    [Fact]
    public async Task Problem_EveryAcceptedFilterAndMutation_CompilesWithPythonRe()
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("python3"), "python3 is not installed");
        const string Specials = "*+?{}()[]|^$\\.-_,:<>=!#'\" %dh";
        var candidates = new HashSet<string>(StringComparer.Ordinal);
        foreach (var seed in AcceptedFilters)
        {
            candidates.Add(seed);
            for (var i = 0; i <= seed.Length; i++)
            {
                foreach (var c in Specials)
                {
                    candidates.Add(seed.Insert(i, c.ToString()));
                    if (i < seed.Length)
                    {
                        candidates.Add(seed[..i] + c + seed[(i + 1)..]);
                    }
                }
            }
        }

        var accepted = candidates.Where(f => DbFilterSubset.Problem(f) is null).Select(f => f.Replace("%h", "host\\.example\\.com", StringComparison.Ordinal).Replace("%d", "host", StringComparison.Ordinal)).ToList();
        Assert.True(accepted.Count > 100, $"only {accepted.Count} mutations inside the subset");

        const string Script = """
            import json, re, sys
            bad = []
            for p in json.load(sys.stdin):
                try:
                    re.compile(p)
                except re.error as e:
                    bad.append('%s: %s' % (p, e))
            print(json.dumps(bad))
            """;
        var result = await new ProcessCommandRunner().RunAsync(
            new CommandSpec("python3", ["-I", "-c", Script]) { StandardInput = JsonSerializer.Serialize(accepted), Timeout = TimeSpan.FromSeconds(60) },
            TestContext.Current.CancellationToken);
        Assert.True(result.Succeeded, result.Stderr);
        Assert.Equal("[]", result.Stdout.Trim());
    }
}
