using CsCheck;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// Differential properties of the agent's grammars (Engine/Grammar.cs, SpecValidator): over 10,000
/// hostile inputs each, every accepted value also passes the documented grammar written again in
/// <see cref="Oracle"/>, so nothing outside it reaches a path, config file, SQL or command line.
/// </summary>
public sealed class GrammarFuzzTests
{
    private const int Inputs = 10_000;

    private const string Alnum = Oracle.Lower + Oracle.Digits;

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

    [Fact]
    public void IsDomain_HostileInputs_AcceptsOnlyLowercaseDnsNames() =>
        Differential("Grammar.IsDomain", Valid.Domain, Grammar.IsDomain, v => Oracle.IsDnsName(v, minLabels: 2));

    [Fact]
    public void IsHostLabel_HostileInputs_AcceptsOnlyOneLabel() =>
        Differential("Grammar.IsHostLabel", Valid.Label, Grammar.IsHostLabel, Oracle.IsLabel);

    [Fact]
    public void IsEmailAddress_HostileInputs_AcceptsOnlyPlainLocalPartAtDnsName() =>
        Differential("Grammar.IsEmailAddress", Valid.Email, Grammar.IsEmailAddress, v =>
        {
            var at = v.LastIndexOf('@');
            return at > 0 && Oracle.IsWord(v[..at], Alnum + Oracle.Upper + "_+", Alnum + Oracle.Upper + "._+-", 64)
                && Oracle.IsDnsName(v[(at + 1)..], minLabels: 2);
        });

    [Fact]
    public void IsUnixName_HostileInputs_AcceptsOnlyDebianNames() =>
        Differential("Grammar.IsUnixName", Valid.UnixName, Grammar.IsUnixName, v => Oracle.IsWord(v, Oracle.Lower + "_", Alnum + "_-", 32));

    [Fact]
    public void IsSqlIdentifier_HostileInputs_AcceptsOnlyLowercaseIdentifiers() =>
        Differential("Grammar.IsSqlIdentifier", Valid.SqlIdentifier, Grammar.IsSqlIdentifier, Oracle.IsSqlIdentifier);

    [Fact]
    public void IsDatabaseName_HostileInputs_AcceptsOnlyOdooDatabaseNames() =>
        Differential("Grammar.IsDatabaseName", Valid.DatabaseName, Grammar.IsDatabaseName,
            v => Oracle.IsWord(v, Alnum + Oracle.Upper, Alnum + Oracle.Upper + "_-", 63));

    [Fact]
    public void IsPackageName_HostileInputs_AcceptsOnlyDebianPackageNames() =>
        Differential("Grammar.IsPackageName", Valid.PackageName, Grammar.IsPackageName, v =>
        {
            var colon = v.IndexOf(':', StringComparison.Ordinal);
            var name = colon < 0 ? v : v[..colon];
            var arch = colon < 0 ? "a" : v[(colon + 1)..];
            return name.Length >= 2 && Oracle.IsWord(name, Alnum, Alnum + "+.-", 100) && Oracle.IsWord(arch, Alnum, Alnum, 16);
        });

    [Fact]
    public void IsSysctlKey_HostileInputs_AcceptsOnlyKeysThatStayUnderProcSys() =>
        Differential("Grammar.IsSysctlKey", Valid.SysctlKey, Grammar.IsSysctlKey, v =>
        {
            var segments = v.Split('.');
            var path = "/proc/sys/" + v.Replace('.', '/');
            return v.Length <= 200 && segments.Length is >= 2 and <= 16
                && Oracle.IsWord(segments[0], Oracle.Lower, Alnum + "_", 200)
                && segments.Skip(1).All(s => Oracle.IsWord(s, Alnum + Oracle.Upper + "_-", Alnum + Oracle.Upper + "_-", 200))
                && Path.GetFullPath(path) == path;
        });

    [Fact]
    public void IsSysctlValue_HostileInputs_AcceptsOnlySpaceSeparatedWords() =>
        Differential("Grammar.IsSysctlValue", Valid.SysctlValue, Grammar.IsSysctlValue, v =>
            v.Length <= 256 && v.Split(' ').All(word => Oracle.IsWord(word, Alnum + Oracle.Upper + "_.:,+-", Alnum + Oracle.Upper + "_.:,+-", 256)));

    [Fact]
    public void IsSafeAbsolutePath_HostileInputs_AcceptsOnlyPlainPathsWithoutDotSegments() =>
        Differential("Grammar.IsSafeAbsolutePath", Valid.Path, Grammar.IsSafeAbsolutePath, v => Oracle.IsPlainAbsolutePath(v, allowTrailingSlash: true));

    [Fact]
    public void IsSeries_HostileInputs_AcceptsOnlyAsciiDigitSeries() =>
        Differential("SpecValidator.IsSeries", Valid.Series, SpecValidator.IsSeries, v =>
        {
            var dot = v.IndexOf('.', StringComparison.Ordinal);
            return dot is >= 1 and <= 3 && v.Length == dot + 2 && v.Remove(dot, 1).All(char.IsAsciiDigit);
        });

    [Fact]
    public void IsCommit_HostileInputs_AcceptsOnlyFullLowercaseHex() =>
        Differential("SpecValidator.IsCommit", Valid.Commit, SpecValidator.IsCommit, v => v.Length == 40 && v.All(char.IsAsciiHexDigitLower));

    [Fact]
    public void IsSingleLine_HostileInputs_AcceptsNoLineBreakOfAnyKind() =>
        Differential("Grammar.IsSingleLine", Valid.OptionText, Grammar.IsSingleLine, Oracle.IsOneLine);

    [Fact]
    public void CheckSourceUrl_HostileInputs_AcceptsNothingGitCouldReadAsAnOption()
    {
        var tally = new FuzzTally("SpecValidator.CheckSourceUrl");
        var valid = Gen.OneOf<string>(
            Valid.Path,
            Valid.Path.Select(p => "file://" + p),
            Gen.Select(Gen.OneOf("https://", "http://", "git://", "ssh://"), Valid.Domain, Valid.Path, (scheme, host, path) => scheme + host + path));
        Hostile.Around(valid).Sample(
            input =>
            {
                if (SpecValidator.CheckSourceUrl(input) is { } error)
                {
                    tally.Require(error.StartsWith("odoo.source_url: ", StringComparison.Ordinal) && Oracle.IsOneLine(error), input, $"error does not name the field or echoes controls: {error}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(!input.StartsWith('-') && !input.Any(char.IsWhiteSpace) && Oracle.IsOneLine(input), input, "accepted a URL git could misread");
                tally.Require(input.StartsWith('/') || input.Contains("://", StringComparison.Ordinal), input, "accepted something that is neither a path nor a URL");
            },
            iter: Inputs,
            print: FuzzTally.Show);
        tally.Report();
    }
}
