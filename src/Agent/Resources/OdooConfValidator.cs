using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Checks a rendered odoo.conf with the reader Odoo 18 itself uses, Python's configparser.RawConfigParser
/// (strict: a duplicate key or a stray line fails), and Python's re for the dbfilter, whose syntax differs
/// from .NET's in places. Also insists on a single [options] section, only Odoo 18 options and a valid
/// log_level. Messages never echo values: the file holds secrets.
/// </summary>
internal sealed class OdooConfValidator(ICommandRunner runner, string python = "/usr/bin/python3") : IFileValidator
{
    private const string Script = """
        import configparser, re, sys
        path, known, levels = sys.argv[1], set(sys.argv[2].split(',')), set(sys.argv[3].split(','))
        parser = configparser.RawConfigParser()
        try:
            with open(path, encoding='utf-8') as f:
                parser.read_file(f)
        except configparser.DuplicateOptionError as e:
            sys.exit("option '%s' appears twice (line %s)" % (e.option, e.lineno))
        except configparser.DuplicateSectionError as e:
            sys.exit("section [%s] appears twice (line %s)" % (e.section, e.lineno))
        except configparser.MissingSectionHeaderError as e:
            sys.exit('line %s comes before the [options] section' % e.lineno)
        except configparser.ParsingError as e:
            sys.exit('line(s) %s are not "key = value"' % ', '.join(str(n) for n, _ in e.errors))
        except (configparser.Error, UnicodeDecodeError, OSError) as e:
            sys.exit('cannot read the file: %s' % type(e).__name__)
        problems = []
        if parser.sections() != ['options']:
            problems.append('sections %s, expected only [options]' % parser.sections())
        options = dict(parser.items('options')) if parser.has_section('options') else {}
        problems += ["'%s' is not an Odoo 18 option" % key for key in sorted(options) if key not in known]
        if 'log_level' in options and options['log_level'] not in levels:
            problems.append('log_level is not an Odoo 18 level')
        if 'dbfilter' in options:
            try:
                re.compile(options['dbfilter'].replace('%h', re.escape('host.example.com')).replace('%d', 'host'))
            except re.error as e:
                problems.append("dbfilter does not compile with Python's re: %s" % e)
        if problems:
            sys.exit('; '.join(problems))
        """;

    public async Task ValidateAsync(string tempPath, CancellationToken ct)
    {
        var spec = new CommandSpec(
            python,
            ["-I", "-B", "-", tempPath, string.Join(',', OdooConfRenderer.KnownOptions.Order(StringComparer.Ordinal)), string.Join(',', OdooConfRenderer.LogLevels)])
        {
            StandardInput = Script,
            Timeout = TimeSpan.FromSeconds(30),
        };
        var result = await runner.RunAsync(spec, ct);
        if (!result.Succeeded)
        {
            var why = result.TimedOut || result.Stderr.Trim().Length == 0 ? result.Describe(spec) : result.Stderr.Trim();
            throw new ResourceFailedException($"odoo.conf check with {python} failed (the old file is kept): {why}");
        }
    }
}
