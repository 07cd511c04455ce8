namespace OdooFleet.Agent.Profiles;

/// <summary>
/// Everything that differs between the supported distributions, in one place: package names,
/// the PostgreSQL major version and whether it comes from PGDG, and the release codename.
/// Ubuntu 22.04 ships PostgreSQL 14; the profile wants 15+ (seed guide), so there it adds the
/// PostgreSQL project's apt repository, whose signing key postgresql-common already ships.
/// </summary>
internal sealed record OsProfile(string Id, string VersionId, string Codename, int PostgresMajor, bool PostgresFromPgdg)
{
    public const string PgdgKey = "/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc";
    public const string PgdgSourceFile = "/etc/apt/sources.list.d/pgdg.sources";

    public static readonly IReadOnlyList<OsProfile> Supported =
    [
        new("debian", "12", "bookworm", 15, PostgresFromPgdg: false),
        new("ubuntu", "22.04", "jammy", 16, PostgresFromPgdg: true),
        new("ubuntu", "24.04", "noble", 16, PostgresFromPgdg: false),
    ];

    public bool IsUbuntu => Id == "ubuntu";

    public string PostgresPackage => $"postgresql-{PostgresMajor}";

    /// <summary>The PGDG deb822 source for this release (only used where <see cref="PostgresFromPgdg"/>).</summary>
    public string PgdgSource => $"""
        # Managed by odoofleet-agent: PostgreSQL {PostgresMajor} from the PostgreSQL project (the release ships an older one).
        Types: deb
        URIs: https://apt.postgresql.org/pub/repos/apt
        Suites: {Codename}-pgdg
        Components: main
        Signed-By: {PgdgKey}

        """;

    /// <summary>The profile for an os-release ID and VERSION_ID, or an error that names what is supported.</summary>
    public static OsProfile Resolve(string id, string versionId) =>
        Supported.FirstOrDefault(p => p.Id == id && p.VersionId == versionId)
        ?? throw new SpecValidationException(
        [
            $"host os: '{Engine.Grammar.Printable(id)} {Engine.Grammar.Printable(versionId)}' is not supported by the Odoo 18 profile "
            + $"(supported: {string.Join(", ", Supported.Select(p => $"{p.Id} {p.VersionId}"))}); run the agent on a supported release",
        ]);
}
