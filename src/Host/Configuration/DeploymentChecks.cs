using System.Security.Cryptography;
using System.Text;

namespace EventProfiles.Host.Configuration;

/// <summary>
/// What the Host refuses to start with outside Development: secrets that are missing or that anyone can read in this
/// repository (appsettings.Development.json, the test fixtures), and hosts that would come from the request.
/// </summary>
public static class DeploymentChecks
{
    public const string SigningKey = "EventProfiles:ProfileApiTokens:SigningKey";
    public const string AdminUsers = "EventProfiles:Admin:Users";
    public const string DsrSigningKey = "EventProfiles:Dsr:SigningKeyPem";
    public const string PublicBaseUrl = "EventProfiles:PublicBaseUrl";
    public const string AllowedHosts = "AllowedHosts";

    /// <summary>Profile API signing keys published in this repository.</summary>
    public static readonly IReadOnlySet<string> DevelopmentSigningKeys = new HashSet<string>(StringComparer.Ordinal)
    {
        "development-only-signing-key-change-me-in-production", // appsettings.Development.json
    };

    /// <summary>Admin passwords published in this repository (README, appsettings.Development.json, test fixtures).</summary>
    public static readonly IReadOnlySet<string> DevelopmentAdminPasswords = new HashSet<string>(StringComparer.Ordinal)
    {
        "admin-password", "support-password", "lockout-password",
    };

    /// <summary>Input secrets and Profile API client secrets published in this repository (development org, test fixtures).</summary>
    public static readonly IReadOnlySet<string> DevelopmentClientSecrets = new HashSet<string>(StringComparer.Ordinal)
    {
        "demo-secret", "other-secret", "demo-client-secret", "other-client-secret",
        "test-secret", "second-secret", "fwd-secret", "limited-secret", "demo-ios-secret", "demo-android-secret",
    };

    /// <summary>
    /// SHA-256 (hex) of the DSR signing keys (PEM, whitespace removed) published in this repository; none yet, the
    /// development Host makes one per process. A key added to a fixture goes here.
    /// </summary>
    public static readonly IReadOnlySet<string> DevelopmentDsrKeyHashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Each reason the configuration must not serve outside Development, naming the setting; empty when it may.</summary>
    public static IReadOnlyList<string> Problems(IConfiguration config, IHostEnvironment environment)
    {
        if (environment.IsDevelopment()) return [];
        var problems = new List<string>();

        var signingKey = config[SigningKey];
        if (string.IsNullOrEmpty(signingKey)) problems.Add($"{SigningKey} is not set (Profile API tokens would not survive a restart nor be shared by nodes).");
        else if (DevelopmentSigningKeys.Contains(signingKey)) problems.Add($"{SigningKey} is the development key published in the repository.");

        foreach (var user in config.GetSection(AdminUsers).GetChildren())
        {
            var password = user["Password"];
            var name = $"{AdminUsers}:{user.Key}:Password (user '{user["Name"]}')";
            if (string.IsNullOrEmpty(password)) problems.Add($"{name} is not set.");
            else if (DevelopmentAdminPasswords.Contains(password)) problems.Add($"{name} is a development password published in the repository.");
        }

        // Not required (an install may have none), but never one anybody can read here.
        foreach (var client in config.GetSection("EventProfiles:ProfileApiClients").GetChildren())
            if (client["ClientSecret"] is { } secret && DevelopmentClientSecrets.Contains(secret))
                problems.Add($"EventProfiles:ProfileApiClients:{client.Key}:ClientSecret (client '{client["ClientId"]}') is a development secret published in the repository.");
        foreach (var account in config.GetSection("EventProfiles:Org:Accounts").GetChildren())
        foreach (var workspace in account.GetSection("Workspaces").GetChildren())
        foreach (var input in workspace.GetSection("Inputs").GetChildren())
            if (input["Secret"] is { } secret && DevelopmentClientSecrets.Contains(secret))
                problems.Add($"EventProfiles:Org:Accounts:{account.Key}:Workspaces:{workspace.Key}:Inputs:{input.Key}:Secret (input '{input["Name"]}') is a development secret published in the repository.");

        var dsrKey = config[DsrSigningKey];
        if (string.IsNullOrWhiteSpace(dsrKey)) problems.Add($"{DsrSigningKey} is not set (OpenDSR callback signatures would change on every restart).");
        else if (DevelopmentDsrKeyHashes.Contains(Hash(dsrKey))) problems.Add($"{DsrSigningKey} is a development key published in the repository.");

        if (!Uri.TryCreate(config[PublicBaseUrl], UriKind.Absolute, out var baseUrl) || baseUrl.Scheme is not ("https" or "http"))
            problems.Add($"{PublicBaseUrl} is not set to an absolute http(s) URL (the address clients reach this service at; never taken from the request's Host header).");

        var hosts = config[AllowedHosts];
        if (string.IsNullOrWhiteSpace(hosts) || hosts.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Contains("*"))
            problems.Add($"{AllowedHosts} is not set, or is \"*\": list the host names this service answers to (separated by ';').");
        return problems;
    }

    private static string Hash(string pem) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(pem.Where(c => !char.IsWhiteSpace(c))))));
}
