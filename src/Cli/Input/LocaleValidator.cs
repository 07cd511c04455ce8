using System.Text.RegularExpressions;

namespace OdooFleet.Cli.Input;

/// <summary>
/// The shapes of `fleet tenant create --lang` and `--country`, checked before anything is sent; the
/// controller checks them again (the country against the ISO 3166-1 list).
/// </summary>
internal static partial class LocaleValidator
{
    /// <summary>An error naming the option and the fix, or null when <paramref name="lang"/> looks like an Odoo language code.</summary>
    public static string? CheckLang(string lang) => LangPattern().IsMatch(lang)
        ? null
        : $"--lang: '{lang}' is not an Odoo language code; use language_REGION as Odoo names them, e.g. --lang fr_FR, --lang es_419 or --lang sr@latin";

    /// <summary>An error naming the option and the fix, or null when <paramref name="country"/> is two capital letters.</summary>
    public static string? CheckCountry(string country) => CountryPattern().IsMatch(country)
        ? null
        : CountryPattern().IsMatch(country.ToUpperInvariant())
            ? $"--country: write the code in capitals: --country {country.ToUpperInvariant()}"
            : $"--country: '{country}' is not an ISO 3166-1 alpha-2 country code; use two capital letters, e.g. --country FR, --country US or --country GB";

    [GeneratedRegex(@"^[a-z]{2,3}(?:_(?:[A-Z]{2}|[0-9]{3}))?(?:@[A-Za-z]{4,8})?\z", RegexOptions.CultureInvariant)]
    private static partial Regex LangPattern();

    [GeneratedRegex(@"^[A-Z]{2}\z", RegexOptions.CultureInvariant)]
    private static partial Regex CountryPattern();
}
