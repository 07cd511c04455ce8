using System.Collections.Concurrent;
using CsCheck;

// Compiled into both test assemblies (Controller.Tests links this file): one hostile generator, one tally.
namespace OdooFleet.Fuzz;

/// <summary>
/// Generators of hostile text around a grammar's valid values: valid values as they are (so
/// acceptance is exercised), valid prefixes with an injection appended, single hostile characters
/// inserted or substituted, payloads of the config languages the values end up in, look-alike and
/// full-width characters, case changes, very long strings, and random soup of all of it.
/// </summary>
internal static class Hostile
{
    /// <summary>Characters with a meaning in nginx, odoo.conf (INI), pg_hba, SQL, systemd, shells, printf, paths; and Unicode traps.</summary>
    public const string Chars =
        "\n\r\u2028\u2029\u0085\0\t\v\f\u001b\u007f\u0008 ;{}#\"'`$\\%/.,:=[]()<>|&*?!~^@+-_"
        + "\u0430\u0435\u043e\u0440\u0441\uff41\uff0e\uff10\u2024\u3002\u0131\u212a\u017f\u00a0\u200b\ufeff\u202e\u0660\u0661\u0967\u00e9\u00df\ud800";

    /// <summary>Payloads of the languages our values land in.</summary>
    public static readonly string[] Injections =
    [
        ";\n  location / {", "; location / { return 200; }", "}\nserver {", " $host", "$request_uri", "${x}", "\"; add_header X 1; #",
        "\nadmin_passwd = x", "8\nadmin_passwd = x", "\n[options]", "[options]", "\r\nlist_db = True", "\u2028list_db = True", "\u0085x = y",
        "; comment", "# comment", " = x", ": x", "\n  continued",
        "\nall all 0.0.0.0/0 trust", "all all 0.0.0.0/0 trust", "\nhost all all ::/0 trust", ",all",
        "x'; DROP ROLE odoo; --", "\"odoo\"", "$$", "$tag$", "'||'", ":'name'", ":\"name\"", "\\gexec", "\\! id", ";\\c template1",
        "%h", "%n", "%%", "%s%s%s%n", "{0}", "\n[Service]\nExecStart=/bin/sh", "\nExecStartPre=/bin/sh -c id",
        "../", "../../etc/shadow", "/../", "/./", "/.", "/..", "//", "/etc/passwd", "~root", "\0", "$(id)", "`id`", "| id", "&& id", "-oProxyCommand=id", "--help",
        "\u202egnp.exe", "\ud83d\ude00", "\uff0ecom", "\u3002com", ".", "..", "-", "_",
    ];

    public static readonly Gen<string> Injection = Gen.OneOf(Injections);

    public static readonly Gen<char> Char = Gen.Char[Chars];

    /// <summary>Random strings over hostile characters, ASCII letters and digits.</summary>
    public static readonly Gen<string> Soup = Gen.String[Gen.Char[Chars + "abcdefghijklmnopqrstuvwxyzABCDEFZ0123456789"], 0, 40];

    /// <summary>Hostile variants of <paramref name="valid"/>'s values, about a fifth of them the valid values themselves.</summary>
    public static Gen<string> Around(Gen<string> valid) => Gen.Frequency<string>(
        (4, valid),
        (3, Gen.Select(valid, Injection, (v, i) => v + i)),
        (1, Gen.Select(Injection, valid, (i, v) => i + v)),
        (2, Gen.Select(valid, Injection, valid, (a, i, b) => a + i + b)),
        (4, Gen.Select(valid, Gen.Int[0, 1 << 20], Char, Gen.Bool, Mutate)),
        (2, Soup),
        (1, Injection),
        (1, Gen.Select(valid, Gen.Int[2, 300], (v, n) => string.Concat(Enumerable.Repeat(v.Length == 0 ? "a" : v, n)))),
        (1, valid.Select(LookAlike)),
        (1, valid.Select(v => v.ToUpperInvariant())),
        (1, valid.Select(v => " " + v)),
        (1, valid.Select(v => v + "\n")));

    /// <summary>Mostly valid, sometimes hostile: for specs of several fields, so that some specs pass as a whole.</summary>
    public static Gen<string> Sometimes(Gen<string> valid) => Gen.Frequency<string>((3, valid), (2, Around(valid)));

    /// <summary>Valid nearly always: for whole specs of many fields, so that about one field in ten is hostile.</summary>
    public static Gen<string> Rarely(Gen<string> valid) => Gen.Frequency<string>((10, valid), (1, Around(valid)));

    /// <summary>
    /// Whether the text is well-formed UTF-16 (no lone surrogate). Only such text can arrive: protobuf
    /// strings are UTF-8 on the wire, and files are written as UTF-8.
    /// </summary>
    public static bool IsWellFormed(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Inserts (or substitutes) one hostile character at a position chosen by <paramref name="where"/>.</summary>
    private static string Mutate(string value, int where, char c, bool replace)
    {
        if (value.Length == 0)
        {
            return c.ToString();
        }

        var at = where % value.Length;
        return replace ? string.Concat(value.AsSpan(0, at), c.ToString(), value.AsSpan(at + 1)) : value.Insert(at, c.ToString());
    }

    /// <summary>Swaps ASCII letters, digits and dots for characters that look like them.</summary>
    private static string LookAlike(string value) => new([.. value.Select(c => c switch
    {
        'a' => '\u0430',
        'e' => '\u0435',
        'o' => '\u043e',
        'k' => '\u212a',
        '.' => '\uff0e',
        '0' => '\u0660',
        '1' => '\uff11',
        >= 'b' and <= 'z' => (char)('\uff41' + (c - 'a')),
        _ => c,
    })]);
}

/// <summary>
/// Counts one fuzz run: inputs tried, rejected by the validator, accepted (and checked). An escape
/// is an accepted input whose result breaks the property: it is counted, then thrown, so CsCheck
/// shrinks it to a small reproducer and fails the test with it.
/// </summary>
internal sealed class FuzzTally(string name)
{
    private readonly ConcurrentQueue<string> escapes = new();
    private int tried;
    private int rejected;
    private int accepted;

    public int Tried => tried;

    public void Rejected()
    {
        Interlocked.Increment(ref tried);
        Interlocked.Increment(ref rejected);
    }

    public void Accepted()
    {
        Interlocked.Increment(ref tried);
        Interlocked.Increment(ref accepted);
    }

    /// <summary>Records an escape and throws it (CsCheck then shrinks the input).</summary>
    public void Escape(string input, string why)
    {
        var shown = Show(input);
        escapes.Enqueue($"{shown}: {why}");
        throw new InvalidOperationException($"{name}: escaped: {shown}: {why}");
    }

    /// <summary>Escapes unless <paramref name="holds"/>.</summary>
    public void Require(bool holds, string input, string why)
    {
        if (!holds)
        {
            Escape(input, why);
        }
    }

    /// <summary>Writes "tried N inputs, rejected R, accepted A, escaped E" and asserts E == 0 with both R and A non-zero.</summary>
    public void Report()
    {
        var line = $"{name}: tried {tried} inputs, rejected {rejected}, accepted {accepted}, escaped {escapes.Count}";
        Xunit.TestContext.Current.TestOutputHelper?.WriteLine(line);
        Xunit.Assert.True(escapes.IsEmpty, line + ": " + string.Join(" | ", escapes.Take(5)));
        Xunit.Assert.True(rejected > 0, line + ": the generator produced nothing the validator refuses; it is not hostile");
        Xunit.Assert.True(accepted > 0, line + ": the generator produced nothing the validator accepts; acceptance is untested");
    }

    /// <summary>An input made readable: escapes for controls and non-ASCII, bounded.</summary>
    public static string Show(string value)
    {
        var text = string.Concat(value.Take(120).Select(c => c is >= ' ' and <= '~' ? c.ToString() : $"\\u{(int)c:x4}"));
        return $"\"{text}{(value.Length > 120 ? "…" : "")}\" (length {value.Length})";
    }
}

/// <summary>
/// The documented grammars written again, independently of the code under test (loops, not the
/// production regexes), for the differential properties: whatever a validator accepts must pass here.
/// </summary>
internal static class Oracle
{
    public static bool IsLowerAlnum(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    /// <summary>A DNS label: 1-63 of a-z 0-9 '-', not starting or ending with '-'.</summary>
    public static bool IsLabel(string label) =>
        label.Length is >= 1 and <= 63 && label.All(c => IsLowerAlnum(c) || c == '-') && label[0] != '-' && label[^1] != '-';

    /// <summary>Lowercase DNS name of at least <paramref name="minLabels"/> labels, 253 characters in all.</summary>
    public static bool IsDnsName(string value, int minLabels)
    {
        var labels = value.Split('.');
        return value.Length is >= 1 and <= 253 && labels.Length >= minLabels && labels.All(IsLabel);
    }

    /// <summary>First character from <paramref name="first"/>, the rest from <paramref name="rest"/>, 1-<paramref name="max"/> long.</summary>
    public static bool IsWord(string value, string first, string rest, int max) =>
        value.Length >= 1 && value.Length <= max && first.Contains(value[0], StringComparison.Ordinal)
        && value.Skip(1).All(c => rest.Contains(c, StringComparison.Ordinal));

    public const string Lower = "abcdefghijklmnopqrstuvwxyz";
    public const string Upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    public const string Digits = "0123456789";

    /// <summary>PostgreSQL role names we manage: ^[a-z_][a-z0-9_]{0,62}$.</summary>
    public static bool IsSqlIdentifier(string value) => IsWord(value, Lower + "_", Lower + Digits + "_", 63);

    /// <summary>Printable ASCII without space: what survives every config language unquoted except for its own delimiters.</summary>
    public static bool IsVisibleAscii(string value) => value.All(c => c is > ' ' and <= '~');

    /// <summary>No C0/C1 control character and no Unicode line or paragraph separator.</summary>
    public static bool IsOneLine(string value) =>
        !value.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.LineSeparator
            or System.Globalization.UnicodeCategory.ParagraphSeparator);

    /// <summary>An absolute path of [A-Za-z0-9._+@:/-] without empty, "." or ".." segments (one trailing '/' where allowed).</summary>
    public static bool IsPlainAbsolutePath(string value, bool allowTrailingSlash)
    {
        if (value.Length is < 1 or > 4096 || value[0] != '/'
            || !value.All(c => IsLowerAlnum(c) || Upper.Contains(c, StringComparison.Ordinal) || "._+@:/-".Contains(c, StringComparison.Ordinal)))
        {
            return false;
        }

        var body = allowTrailingSlash && value.Length > 1 && value[^1] == '/' ? value[1..^1] : value[1..];
        return value == "/" || body.Split('/').All(segment => segment.Length > 0 && segment is not "." and not "..");
    }
}
