using Microsoft.AspNetCore.Server.Kestrel.Https;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Secrets;

namespace OdooFleet.Controller.Security;

/// <summary>Wiring of the fleet PKI into the host: services, Kestrel's TLS defaults, the CA download.</summary>
internal static class FleetSecurityHosting
{
    /// <summary>Where anyone may fetch the fleet CA (DER): public data, checked by agents against the pinned SHA-256.</summary>
    public const string CaCertificatePath = "/fleet-ca.crt";

    public static IServiceCollection AddFleetSecurity(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SecurityOptions>().Bind(configuration.GetSection(SecurityOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<FleetCertificateAuthority>();
        services.AddSingleton<ServerCertificateProvider>();
        services.AddSingleton<HostCertificateStore>();
        services.AddSingleton<AgentIdentityFactory>();
        services.AddSingleton<AgentAuthenticator>();
        services.AddSingleton<OdooAdminPasswords>();
        return services;
    }

    /// <summary>Every https:// endpoint (ASPNETCORE_URLS) serves the fleet server certificate and asks for client certificates.</summary>
    public static IWebHostBuilder UseFleetTls(this IWebHostBuilder web) =>
        web.ConfigureKestrel(kestrel => kestrel.ConfigureHttpsDefaults(https =>
            ConfigureHttps(https, kestrel.ApplicationServices.GetRequiredService<ServerCertificateProvider>())));

    public static void ConfigureHttps(HttpsConnectionAdapterOptions https, ServerCertificateProvider certificates)
    {
        // Kestrel wants a certificate or a selector before it binds; each handshake then gets the
        // current context instead, which carries the CA as chain and is renewed in memory.
        https.ServerCertificateSelector = (_, _) => certificates.Current().TargetCertificate;
        https.OnAuthenticate = (_, ssl) =>
        {
            ssl.ServerCertificateSelectionCallback = null;
            ssl.ServerCertificate = null;
            ssl.ServerCertificateContext = certificates.Current();
        };

        // Asked for, never required: Enroll has no certificate yet, and AgentAuthenticator checks
        // every call itself so that each refusal is logged and audited (a TLS-layer refusal is not).
        https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
        https.ClientCertificateValidation = (_, _, _) => true;
        https.CheckCertificateRevocation = false;
    }

    public static IEndpointConventionBuilder MapFleetCaCertificate(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet(CaCertificatePath, (FleetCertificateAuthority authority) =>
            Results.Bytes(authority.CaCertificate.RawData, "application/pkix-cert"));
}
