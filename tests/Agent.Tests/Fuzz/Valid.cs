using CsCheck;

namespace OdooFleet.Fuzz;

/// <summary>Generators of valid values for the grammars (shared with Controller.Tests); <see cref="Hostile.Around"/> makes them hostile.</summary>
internal static class Valid
{
    private const string Alnum = Oracle.Lower + Oracle.Digits;

    public static readonly Gen<string> Label = Gen.Select(
        Gen.Char[Alnum], Gen.String[Gen.Char[Alnum + "-"], 0, 10], Gen.Char[Alnum], Gen.Bool,
        (first, middle, last, single) => single ? first.ToString() : first + middle + last);

    public static readonly Gen<string> Domain = Label.Array[2, 4].Select(labels => string.Join('.', labels));

    public static readonly Gen<string> Email = Gen.Select(
        Gen.Char[Alnum], Gen.String[Gen.Char[Alnum + "._+-"], 0, 10], Domain, (first, rest, domain) => $"{first}{rest}@{domain}");

    public static readonly Gen<string> SqlIdentifier = Gen.Select(
        Gen.Char[Oracle.Lower + "_"], Gen.String[Gen.Char[Alnum + "_"], 0, 14], (first, rest) => first + rest);

    public static readonly Gen<string> UnixName = Gen.Select(
        Gen.Char[Oracle.Lower + "_"], Gen.String[Gen.Char[Alnum + "_-"], 0, 14], (first, rest) => first + rest);

    public static readonly Gen<string> DatabaseName = Gen.Select(
        Gen.Char[Alnum + Oracle.Upper], Gen.String[Gen.Char[Alnum + Oracle.Upper + "_-"], 0, 14], (first, rest) => first + rest);

    public static readonly Gen<string> PackageName = Gen.Select(
        Gen.Char[Alnum], Gen.String[Gen.Char[Alnum + "+.-"], 1, 14], Gen.OneOf("", ":amd64", ":arm64", ":i386"), (first, rest, arch) => first + rest + arch);

    public static readonly Gen<string> SysctlKey = Gen.Select(
        Gen.OneOf("net", "vm", "kernel", "fs"), Gen.String[Gen.Char[Alnum + Oracle.Upper + "_-"], 1, 10].Array[1, 3],
        (first, rest) => first + "." + string.Join('.', rest));

    public static readonly Gen<string> SysctlValue = Gen.String[Gen.Char[Alnum + Oracle.Upper + "_.:,+-"], 1, 8].Array[1, 3]
        .Select(words => string.Join(' ', words));

    public static readonly Gen<string> Path = Gen.String[Gen.Char[Alnum + Oracle.Upper + "._+@:-"], 1, 10]
        .Where(segment => segment is not "." and not "..").Array[1, 5].Select(segments => "/" + string.Join('/', segments));

    public static readonly Gen<string> Series = Gen.Select(Gen.Int[0, 999], Gen.Int[0, 9], (major, minor) => $"{major}.{minor}");

    public static readonly Gen<string> Commit = Gen.String[Gen.Char["0123456789abcdef"], 40, 40];

    /// <summary>A value for free-text odoo.conf options: printable, with the characters INI readers and shells care about.</summary>
    public static readonly Gen<string> OptionText = Gen.String[Gen.Char[Alnum + Oracle.Upper + " @.<>\"'$%=:,/-_()"], 1, 30]
        .Where(v => v.Trim().Length == v.Length);
}
