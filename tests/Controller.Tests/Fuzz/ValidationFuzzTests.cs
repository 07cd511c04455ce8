using CsCheck;
using OdooFleet.Controller.Domain;
using OdooFleet.Fuzz;
using Xunit;

namespace OdooFleet.Controller.Tests.Fuzz;

/// <summary>
/// Differential properties of Domain/Validation.cs over 10,000 hostile inputs each: every accepted
/// value passes the documented grammar written again in the test (host names as enrollment lowers
/// them, ids, releases, absolute paths).
/// </summary>
public sealed class ValidationFuzzTests
{
    private const int Inputs = 10_000;

    private static readonly Gen<string> Ids = Gen.String[Gen.Char["abcdefghijkmnpqrstuvwxyz23456789"], 10, 10].Select(s => $"h-{s}");

    private static void Differential(string name, Gen<string> valid, Func<string, bool> accepts, Func<string, bool> grammar)
    {
        var tally = new FuzzTally(name);
        Hostile.Around(valid).Sample(
            input =>
            {
                if (!accepts(input))
                {
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(grammar(input), input, "accepted, but outside the documented grammar");
                tally.Require(Oracle.IsOneLine(input), input, "accepted with a control or line-separator character");
            },
            iter: Inputs,
            print: FuzzTally.Show);
        tally.Report();
    }

    /// <summary>AgentApi.Enroll lowers the name, then checks it: what is stored must be a plain label either way.</summary>
    [Fact]
    public void IsHostName_HostileEnrollNames_LoweredThenOnlyOneDnsLabel() =>
        Differential("Validation.IsHostName(name.ToLowerInvariant())", Valid.Label.Select(l => l.ToUpperInvariant()),
            name => Validation.IsHostName(name.ToLowerInvariant()), name => Oracle.IsLabel(name.ToLowerInvariant()));

    [Fact]
    public void IsId_HostileIds_OnlyPrefixHyphenAndTenBase32() =>
        Differential("Validation.IsId", Ids, id => Validation.IsId(id, 'h'),
            id => id.Length == 12 && id.StartsWith("h-", StringComparison.Ordinal) && id[2..].All(c => "abcdefghijkmnpqrstuvwxyz23456789".Contains(c, StringComparison.Ordinal)));

    [Fact]
    public void IsSeries_HostileSeries_OnlyAsciiDigits() =>
        Differential("Validation.IsSeries", Valid.Series, Validation.IsSeries, v =>
        {
            var dot = v.IndexOf('.', StringComparison.Ordinal);
            return dot is >= 1 and <= 3 && v.Length == dot + 2 && v.Remove(dot, 1).All(char.IsAsciiDigit);
        });

    [Fact]
    public void IsCommit_HostileCommits_OnlyFullLowercaseHex() =>
        Differential("Validation.IsCommit", Valid.Commit, Validation.IsCommit, v => v.Length == 40 && v.All(char.IsAsciiHexDigitLower));

    [Fact]
    public void IsAbsolutePath_HostilePaths_OnlyPlainSegments() =>
        Differential("Validation.IsAbsolutePath", Valid.Path, Validation.IsAbsolutePath, v => Oracle.IsPlainAbsolutePath(v, allowTrailingSlash: false));
}
