using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Workspaces;

/// <summary>How an input sends data, which decides how its batches change the profile (events-api.md §8).</summary>
public enum InputKind
{
    /// <summary>Server-to-server or custom feed: batch <c>user_attributes</c> are written straight to the profile.</summary>
    Server,
    /// <summary>A client SDK platform (web, iOS, Android): only <c>user_attribute_change</c> events change attributes.</summary>
    Web,
    /// <summary>mParticle's iOS SDK: signed uploads to <c>/v2/{key}/events</c> (native-sdks.md); SDK semantics, as <see cref="Web"/>.</summary>
    IOS,
    /// <summary>mParticle's Android SDK: signed uploads to <c>/v2/{key}/events</c> (native-sdks.md); SDK semantics, as <see cref="Web"/>.</summary>
    Android,
}

public static class InputKinds
{
    /// <summary>A client SDK (web or native): its batch snapshot may be stale, and it adds identities, never replaces them.</summary>
    public static bool IsSdk(this InputKind kind) => kind != InputKind.Server;

    /// <summary>The native SDKs sign every call with the input's secret (native-sdks.md §2.2).</summary>
    public static bool IsNative(this InputKind kind) => kind is InputKind.IOS or InputKind.Android;
}

/// <summary>A platform or feed with its own credentials, sending into one workspace.</summary>
/// <param name="AllowKeyOnly">May IDSync and SDK calls authenticate with the key alone (x-mp-key, as the web SDK does)?</param>
public sealed record Input(string Name, InputKind Kind, string Key, string? Secret, string Environment, Workspace Workspace, bool AllowKeyOnly);

public sealed record Workspace(int Id, string Name, int AccountId, int OrgId);

/// <summary>A Profile API client (OAuth client credentials), the workspaces it may use and what it may do there (<see cref="ApiScopes"/>).</summary>
public sealed record ProfileApiClient(string ClientId, string ClientSecret, IReadOnlySet<int> WorkspaceIds, IReadOnlySet<string> Scopes);

/// <summary>What a Profile API / Platform API bearer token may do, one scope per family of endpoints and access.</summary>
public static class ApiScopes
{
    public const string ProfilesRead = "profiles:read";
    public const string AudiencesRead = "audiences:read";
    public const string AudiencesWrite = "audiences:write";
    public const string CalculatedAttributesRead = "calculated_attributes:read";
    public const string CalculatedAttributesWrite = "calculated_attributes:write";

    public static readonly IReadOnlyList<string> All = [ProfilesRead, AudiencesRead, AudiencesWrite, CalculatedAttributesRead, CalculatedAttributesWrite];

    /// <summary>A client configured without scopes may read profiles only: writing is always granted on purpose.</summary>
    public static readonly IReadOnlySet<string> Default = new HashSet<string> { ProfilesRead };
}

/// <summary>The org's accounts, workspaces, inputs and API clients, as configured.</summary>
public sealed class WorkspaceDirectory
{
    private readonly Dictionary<string, Input> _inputsByKey;
    private readonly Dictionary<int, Workspace> _workspaces;
    private volatile Dictionary<string, ProfileApiClient> _clients;

    public WorkspaceDirectory(int orgId, IdentitySettings identity, IEnumerable<Workspace> workspaces, IEnumerable<Input> inputs, IEnumerable<ProfileApiClient> clients)
    {
        OrgId = orgId;
        Identity = identity;
        _workspaces = workspaces.ToDictionary(w => w.Id);
        _inputsByKey = inputs.ToDictionary(i => i.Key, StringComparer.Ordinal);
        _clients = clients.ToDictionary(c => c.ClientId, StringComparer.Ordinal);
    }

    public int OrgId { get; }
    /// <summary>Identity rules of the org (one org is one identity scope).</summary>
    public IdentitySettings Identity { get; }
    public IEnumerable<Workspace> Workspaces => _workspaces.Values;
    public IEnumerable<Input> Inputs => _inputsByKey.Values;

    public Input? InputByKey(string key) => _inputsByKey.GetValueOrDefault(key);

    public Input? InputByName(string name) => Inputs.FirstOrDefault(i => i.Name == name);
    public Workspace? WorkspaceById(int id) => _workspaces.GetValueOrDefault(id);
    public ProfileApiClient? ClientById(string clientId) => _clients.GetValueOrDefault(clientId);

    /// <summary>
    /// The API clients as the configuration now lists them (it was reloaded): a removed client's tokens stop working
    /// at once, since every bearer request looks its client up here. Workspaces and inputs change only on restart.
    /// </summary>
    public void ReplaceClients(IEnumerable<ProfileApiClient> clients) => _clients = clients.ToDictionary(c => c.ClientId, StringComparer.Ordinal);
}
