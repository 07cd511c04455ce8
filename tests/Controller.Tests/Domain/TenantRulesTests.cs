using OdooFleet.Controller.Domain;
using Xunit;

namespace OdooFleet.Controller.Tests.Domain;

public sealed class TenantRulesTests
{
    private static TenantRequest Request(
        string name = "acme", string[]? domains = null, string plan = "small", string? host = null,
        Dictionary<string, string>? selector = null, string[]? modules = null) =>
        new(name, domains ?? [$"{name}.example.com"], plan, host, selector ?? [], modules ?? ["base"]);

    [Fact]
    public void Validate_Typical_NoErrors()
    {
        Assert.Empty(TenantRules.Validate(Request(
            "acme-corp", ["acme-corp.erp.example.com", "erp.acme.com"], "medium", "web-01", modules: ["sale_management", "account"])));
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("acme")]
    [InlineData("acme-corp-2")]
    [InlineData("a12345678901234567890123456789")]
    public void CheckName_Valid_Null(string name) => Assert.Null(TenantRules.CheckName(name));

    [Theory]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("Acme")]
    [InlineData("1acme")]
    [InlineData("acme-")]
    [InlineData("ac--me")]
    [InlineData("acme_corp")]
    [InlineData("acme.corp")]
    [InlineData("acme;drop")]
    [InlineData("acme\n")]
    [InlineData("acme corp")]
    [InlineData("../etc")]
    [InlineData("a\"b")]
    [InlineData("a123456789012345678901234567890")]
    [InlineData("postgres")]
    [InlineData("template1")]
    [InlineData("www")]
    public void CheckName_Invalid_NamesFieldAndFix(string name)
    {
        var error = TenantRules.CheckName(name);
        Assert.NotNull(error);
        Assert.StartsWith("name: ", error, StringComparison.Ordinal);
        Assert.Contains("e.g.", error, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error);
    }

    [Fact]
    public void CheckName_Uppercase_SuggestsLowercase() =>
        Assert.Contains("write it in lowercase: acme", TenantRules.CheckName("ACME"), StringComparison.Ordinal);

    [Theory]
    [InlineData("acme.example.com", "acme")]
    [InlineData("www.acme.example.com", "acme")]
    [InlineData("acme-corp.erp.example.com", "acme-corp")]
    [InlineData("www.com", "com")]
    public void DbFilterLabelOf_AsOdooComputesPercentD(string domain, string label) =>
        Assert.Equal(label, TenantRules.DbFilterLabelOf(domain));

    [Theory]
    [InlineData("acme", "acme.example.com", true)]
    [InlineData("acme", "www.acme.example.com", true)]
    [InlineData("acme", "erp.acme.com", false)]
    [InlineData("acme", "acmex.example.com", false)]
    public void Validate_PrimaryDomainMustCarryTheDatabaseAsPercentD(string name, string primary, bool ok)
    {
        var errors = TenantRules.Validate(Request(name, [primary, "alias.example.org"]));
        Assert.Equal(ok, !errors.Any(e => e.StartsWith("domain: the primary domain", StringComparison.Ordinal)));
        Assert.Equal(name, TenantRules.DatabaseNameOf(name));
        Assert.True(TenantRules.IsDatabaseName(TenantRules.DatabaseNameOf(name)));
    }

    [Theory]
    [InlineData("erp.acme.com;")]
    [InlineData("erp.acme.com\nserver_name evil")]
    [InlineData("*.acme.com")]
    [InlineData("localhost")]
    [InlineData("ERP.acme.com")]
    [InlineData("erp.acme.com.")]
    [InlineData("erp acme.com")]
    [InlineData("erp.acme.com/x")]
    [InlineData("$host.acme.com")]
    public void Validate_BadDomain_Refused(string domain)
    {
        var errors = TenantRules.Validate(Request(domains: [domain]));
        Assert.Contains(errors, e => e.StartsWith("domain: ", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_DomainTwiceOrNone_Refused()
    {
        Assert.Contains(TenantRules.Validate(Request(domains: ["acme.example.com", "acme.example.com"])), e => e.Contains("more than once", StringComparison.Ordinal));
        Assert.Contains(TenantRules.Validate(Request(domains: [])), e => e.Contains("at least one", StringComparison.Ordinal));
        Assert.Contains(
            TenantRules.Validate(Request(domains: [.. Enumerable.Range(0, 11).Select(i => $"d{i}.example.com")])),
            e => e.Contains("at most 10", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("plan", "huge")]
    [InlineData("host", "web 01")]
    [InlineData("modules", "sale;rm")]
    [InlineData("modules", "Sale")]
    [InlineData("modules", "sale,account")]
    [InlineData("modules", "-i")]
    [InlineData("selector", "role=web\n")]
    public void Validate_BadField_ErrorNamesTheField(string field, string value)
    {
        var request = field switch
        {
            "plan" => Request(plan: value),
            "host" => Request(host: value),
            "modules" => Request(modules: [value]),
            _ => Request(selector: new() { ["role"] = value }),
        };

        var errors = TenantRules.Validate(request);
        Assert.Contains(errors, e => e.StartsWith(field, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));
    }

    [Fact]
    public void Validate_HostAndSelector_Refused() =>
        Assert.Contains(TenantRules.Validate(Request(host: "web-01", selector: new() { ["role"] = "web" })), e => e.StartsWith("host: --host and --selector", StringComparison.Ordinal));

    [Theory]
    [InlineData("", true)]
    [InlineData("acme", true)]
    [InlineData("o'brien; drop table tenants", true)]
    [InlineData("a\nb", false)]
    public void CheckSearch_BoundedPrintableText(string text, bool ok) => Assert.Equal(ok, TenantRules.CheckSearch(text) is null);

    [Theory]
    [InlineData("fr_FR")]
    [InlineData("es_419")]
    [InlineData("sr@latin")]
    [InlineData("sr@Cyrl")]
    [InlineData("kab_DZ")]
    [InlineData("de")]
    public void CheckLang_OdooCodes_Null(string lang) => Assert.Null(TenantRules.CheckLang(lang));

    [Theory]
    [InlineData("")]
    [InlineData("fr-FR")]
    [InlineData("FR_fr")]
    [InlineData("fr_FRA")]
    [InlineData("fr_FR.UTF-8")]
    [InlineData("fr_FR --dev=all")]
    [InlineData("sr@")]
    [InlineData("sr@latin;x")]
    [InlineData("fr_FR\n")]
    public void CheckLang_NotALanguageCode_ErrorNamesTheFieldAndExamples(string lang)
    {
        var error = TenantRules.CheckLang(lang);
        Assert.NotNull(error);
        Assert.StartsWith("lang: ", error, StringComparison.Ordinal);
        Assert.Contains("--lang fr_FR", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("FR")]
    [InlineData("US")]
    [InlineData("GB")]
    [InlineData("AX")]
    [InlineData("ZW")]
    public void CheckCountry_AssignedCodes_Null(string country) => Assert.Null(TenantRules.CheckCountry(country));

    [Theory]
    [InlineData("UK", "is not an ISO 3166-1 alpha-2")]
    [InlineData("XK", "is not an ISO 3166-1 alpha-2")]
    [InlineData("ZZ", "is not an ISO 3166-1 alpha-2")]
    [InlineData("FRA", "is not an ISO 3166-1 alpha-2")]
    [InlineData("", "is not an ISO 3166-1 alpha-2")]
    [InlineData("fr", "write the code in capitals: --country FR")]
    public void CheckCountry_NotAnAssignedCode_ErrorSaysWhy(string country, string expected)
    {
        var error = TenantRules.CheckCountry(country);
        Assert.NotNull(error);
        Assert.StartsWith("country: ", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void IsoCountries_AllOfficiallyAssignedCodes_249() => Assert.Equal(249, IsoCountries.Count);

    [Fact]
    public void Validate_LangAndCountry_CheckedWithTheRest()
    {
        Assert.Empty(TenantRules.Validate(Request() with { Lang = "fr_FR", Country = "FR" }));
        var errors = TenantRules.Validate(Request() with { Lang = "french", Country = "France" });
        Assert.Equal(2, errors.Count);
        Assert.StartsWith("lang: ", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("country: ", errors[1], StringComparison.Ordinal);
    }
}
