using System.Collections.Concurrent;
using System.Text.Json;
using CsCheck;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// odoo.conf under hostile operator overrides, log levels, dbfilters and remote database settings:
/// either the renderer refuses with errors naming the field, or the file read back (by our strict
/// INI reading and by Python's configparser, the reader Odoo uses) has exactly [options], exactly
/// the intended keys, and every value equal to the input.
/// </summary>
public sealed class OdooConfFuzzTests
{
    private const int Inputs = 10_000;
    private const int ThroughPython = 200;

    private const string Hash =
        "$pbkdf2-sha512$210000$AAECAwQFBgcICQoLDA0ODw$i86sggKQEqh5IGVVRaPfW2qUSjckKUpbkHT5cwhcDvtbPYlZUzrNUFzjatkR.0tiFMtJW.j9jCRu.Rks1cLQXw";

    private static readonly OdooConfInput Benign = new()
    {
        HttpPort = 8069,
        GeventPort = 8072,
        DataDir = "/var/lib/odoo",
        LogFile = "/var/log/odoo/odoo.log",
        DbFilter = OdooConfRenderer.DbFilterByDomain,
        AdminPasswordHash = Hash,
        AddonsPaths = ["/opt/odoo/current/odoo/addons", "/opt/odoo/current/addons"],
        Database = new LocalPeerDatabase("odoo"),
        Tuning = Tuning.Compute(new TuningInput(2, 4L << 30, LocalPostgres: true)),
    };

    private static readonly Gen<string> OverrideValue = Gen.OneOf<string>(
        Valid.OptionText,
        Gen.Int[-5, 100_000].Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        Gen.OneOf("True", "False", "0.5", "1e3"),
        Valid.Path,
        Valid.SqlIdentifier.Array[1, 3].Select(m => string.Join(',', m)));

    private static readonly Gen<Dictionary<string, string>> Overrides =
        Gen.Select(Hostile.Sometimes(Gen.OneOf([.. OdooConfRenderer.KnownOptions, "email_from", "smtp_server", "log_handler"])), Hostile.Around(OverrideValue))
            .Array[1, 3]
            .Select(pairs => pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal));

    private static readonly Gen<(string Host, string User, string Password, string SslMode)> Remote = Gen.Select(
        Hostile.Around(Gen.OneOf<string>(Valid.Domain, Gen.OneOf("10.0.0.5", "2001:db8::5", "::1", "192.0.2.10"))),
        Hostile.Around(Valid.SqlIdentifier),
        Hostile.Around(Gen.String[Gen.Char['!', '~'], 1, 30]),
        Hostile.Around(Gen.OneOf([.. OdooConfRenderer.SslModes])));

    private sealed record Case(OdooConfInput Input, Dictionary<string, string> Expected);

    /// <summary>One hostile input with what odoo.conf's [options] must then hold, key for key.</summary>
    private static readonly Gen<Case> Cases = Gen.Frequency<Case>(
        (3, Overrides.Select(overrides =>
        {
            var expected = BenignOptions();
            foreach (var (key, value) in overrides)
            {
                expected[key] = value;
            }

            return new Case(Benign with { Overrides = overrides }, expected);
        })),
        (1, Gen.Select(Hostile.Around(Gen.OneOf([.. OdooConfRenderer.LogLevels])), Hostile.Around(Gen.OneOf("^%d$", "^%h$", "^(?:acme|beta-2)$", "^acme_[0-9]+$")),
            (level, filter) => new Case(Benign with { LogLevel = level, DbFilter = filter }, With(BenignOptions(), ("log_level", level), ("dbfilter", filter))))),
        (1, Remote.Select(r =>
        {
            var expected = BenignOptions();
            expected.Remove("db_host");
            return new Case(
                Benign with { Database = new RemoteDatabase(r.Host, 5432, r.User, r.Password, r.SslMode) },
                With(expected, ("db_host", r.Host), ("db_port", "5432"), ("db_user", r.User), ("db_password", r.Password), ("db_sslmode", r.SslMode)));
        })));

    private static Dictionary<string, string> BenignOptions() => new(IniReader.Read(OdooConfRenderer.Render(Benign)).Values["options"], StringComparer.Ordinal);

    private static Dictionary<string, string> With(Dictionary<string, string> options, params (string Key, string Value)[] set)
    {
        foreach (var (key, value) in set)
        {
            options[key] = value;
        }

        return options;
    }

    private static readonly string[] Fields = ["odoo.conf.", "odoo.log_level: ", "odoo.dbfilter: ", "odoo.database."];

    [Fact]
    public async Task Render_HostileInputs_RefusedByFieldOrExactlyTheIntendedOptions()
    {
        var tally = new FuzzTally("OdooConfRenderer.Render");
        var forPython = new ConcurrentQueue<(string Text, Dictionary<string, string> Expected)>();
        Cases.Sample(
            c =>
            {
                string text;
                try
                {
                    text = OdooConfRenderer.Render(c.Input);
                }
                catch (SpecValidationException e)
                {
                    tally.Require(e.Errors.Count > 0 && e.Errors.All(error => Fields.Any(f => error.StartsWith(f, StringComparison.Ordinal)) && Oracle.IsOneLine(error)),
                        string.Join(" ", c.Expected.Values), $"refused without naming the field (or echoing a control character): {string.Join(" | ", e.Errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                var input = string.Join(" ", c.Expected.Values);
                tally.Require(text.All(ch => ch == '\n' || !Grammar.IsLineBreakOrControl(ch)), input, "control or line-separator character in the file");
                var parsed = IniReader.Read(text);
                tally.Require(parsed.Problem is null, input, parsed.Problem ?? "");
                tally.Require(parsed.Sections.SequenceEqual(["options"]), input, $"sections {string.Join(",", parsed.Sections)}");
                var options = parsed.Values["options"];
                tally.Require(options.Keys.Order(StringComparer.Ordinal).SequenceEqual(c.Expected.Keys.Order(StringComparer.Ordinal)), input,
                    $"keys differ: extra {string.Join(",", options.Keys.Except(c.Expected.Keys))}, missing {string.Join(",", c.Expected.Keys.Except(options.Keys))}");
                foreach (var (key, value) in c.Expected)
                {
                    tally.Require(options[key] == value, input, $"{key} reads {FuzzTally.Show(options[key])}, not the input");
                }

                if (forPython.Count < ThroughPython && c.Expected.Values.All(Hostile.IsWellFormed) && c.Expected.Values.Any(v => v.Any(ch => !char.IsAsciiLetterOrDigit(ch) && ch is not '.' and not '_' and not '/')))
                {
                    forPython.Enqueue((text, c.Expected));
                }
            },
            iter: Inputs,
            print: c => string.Join(" | ", c.Expected.Select(p => $"{p.Key}={FuzzTally.Show(p.Value)}")));

        await ThroughConfigParserAsync([.. forPython.Take(ThroughPython)]);
        tally.Report();
    }

    /// <summary>
    /// Python's configparser.RawConfigParser (Odoo 18's reader) on accepted files whose values hold
    /// more than letters and digits: same sections, keys and values; then the agent's own
    /// OdooConfValidator (the same parser plus Odoo's rules) on a tenth of them.
    /// </summary>
    private static async Task ThroughConfigParserAsync(IReadOnlyList<(string Text, Dictionary<string, string> Expected)> files)
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("python3"), "python3 is not installed");
        var ct = TestContext.Current.CancellationToken;
        using var temp = new TempDirectory();
        var paths = files.Select((file, i) => temp.Combine($"odoo{i}.conf")).ToList();
        for (var i = 0; i < files.Count; i++)
        {
            await File.WriteAllTextAsync(paths[i], files[i].Text, ct);
        }

        const string Script = """
            import configparser, json, sys
            for path in sys.argv[1:]:
                p = configparser.RawConfigParser()
                with open(path, encoding='utf-8') as f:
                    p.read_file(f)
                print(json.dumps({'sections': p.sections(), 'options': dict(p.items('options'))}))
            """;
        var runner = new ProcessCommandRunner();
        var result = await runner.RunAsync(new CommandSpec("python3", ["-I", "-c", Script, .. paths]) { Timeout = TimeSpan.FromSeconds(60) }, ct);
        Assert.True(result.Succeeded, result.Stderr);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(files.Count, lines.Length);
        for (var i = 0; i < files.Count; i++)
        {
            using var json = JsonDocument.Parse(lines[i]);
            Assert.Equal(["options"], json.RootElement.GetProperty("sections").EnumerateArray().Select(s => s.GetString()));
            var options = json.RootElement.GetProperty("options").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString(), StringComparer.Ordinal);
            Assert.Equal(files[i].Expected.Keys.Order(StringComparer.Ordinal), options.Keys.Order(StringComparer.Ordinal));
            foreach (var (key, value) in files[i].Expected)
            {
                Assert.True(options[key] == value, $"configparser reads {key} as {FuzzTally.Show(options[key] ?? "")}, not {FuzzTally.Show(value)}");
            }
        }

        for (var i = 0; i < files.Count; i += 10)
        {
            await new OdooConfValidator(runner).ValidateAsync(paths[i], ct);
        }

        TestContext.Current.TestOutputHelper?.WriteLine(
            $"python3 configparser read {files.Count} accepted hostile-looking files as intended; OdooConfValidator passed {(files.Count + 9) / 10} of them");
    }
}
