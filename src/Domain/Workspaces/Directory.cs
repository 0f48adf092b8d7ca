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
public sealed record Input(string Name, InputKind Kind, string Key, string? Secret, string Environment, Workspace Workspace, bool AllowKeyOnly)
{
    /// <summary>Every secret that authenticates this input: two during a rotation (the new one and the one being replaced).</summary>
    public IReadOnlyList<string> AcceptedSecrets { get; init; } = Secret is null ? [] : [Secret];
}

public sealed record Workspace(int Id, string Name, int AccountId, int OrgId);

/// <summary>A Profile API client (OAuth client credentials), the workspaces it may use and what it may do there (<see cref="ApiScopes"/>).</summary>
public sealed record ProfileApiClient(string ClientId, string ClientSecret, IReadOnlySet<int> WorkspaceIds, IReadOnlySet<string> Scopes)
{
    /// <summary>Every secret that authenticates this client: two during a rotation.</summary>
    public IReadOnlyList<string> AcceptedSecrets { get; init; } = [ClientSecret];
}

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

/// <summary>
/// The org's accounts, workspaces, inputs and API clients, read on every request. The stored configuration replaces
/// them as a whole when it changes (<see cref="Replace"/>), so a request sees either the old or the new set, never a mix.
/// </summary>
public sealed class WorkspaceDirectory
{
    private sealed record Contents(Dictionary<string, Input> InputsByKey, Dictionary<int, Workspace> Workspaces, Dictionary<string, ProfileApiClient> Clients);

    private volatile Contents _contents;

    public WorkspaceDirectory(int orgId, IdentitySettings identity, IEnumerable<Workspace> workspaces, IEnumerable<Input> inputs, IEnumerable<ProfileApiClient> clients)
    {
        OrgId = orgId;
        _identity = identity;
        _contents = Build(workspaces, inputs, clients);
    }

    public int OrgId { get; }

    private volatile IdentitySettings _identity;

    /// <summary>
    /// Identity rules of the org (one org is one identity scope), as stored now: replaced as a whole when they change
    /// (<see cref="ReplaceIdentity"/>), so a reader that takes them once per decision never mixes two rule sets.
    /// </summary>
    public IdentitySettings Identity => _identity;
    public IEnumerable<Workspace> Workspaces => _contents.Workspaces.Values;
    public IEnumerable<Input> Inputs => _contents.InputsByKey.Values;
    public IEnumerable<ProfileApiClient> Clients => _contents.Clients.Values;

    public Input? InputByKey(string key) => _contents.InputsByKey.GetValueOrDefault(key);

    public Input? InputByName(string name) => Inputs.FirstOrDefault(i => i.Name == name);
    public Workspace? WorkspaceById(int id) => _contents.Workspaces.GetValueOrDefault(id);
    public ProfileApiClient? ClientById(string clientId) => _contents.Clients.GetValueOrDefault(clientId);

    /// <summary>The API clients only (the other parts stay): a removed client's tokens stop working at once, since every bearer request looks its client up here.</summary>
    public void ReplaceClients(IEnumerable<ProfileApiClient> clients)
    {
        var now = _contents;
        _contents = now with { Clients = clients.ToDictionary(c => c.ClientId, StringComparer.Ordinal) };
    }

    /// <summary>The identity rules as the stored configuration now has them; they apply to resolutions from now on.</summary>
    public void ReplaceIdentity(IdentitySettings identity) => _identity = identity;

    /// <summary>Workspaces, inputs and clients as the stored configuration now has them, swapped in at once.</summary>
    public void Replace(IEnumerable<Workspace> workspaces, IEnumerable<Input> inputs, IEnumerable<ProfileApiClient> clients) =>
        _contents = Build(workspaces, inputs, clients);

    private static Contents Build(IEnumerable<Workspace> workspaces, IEnumerable<Input> inputs, IEnumerable<ProfileApiClient> clients) => new(
        inputs.ToDictionary(i => i.Key, StringComparer.Ordinal),
        workspaces.ToDictionary(w => w.Id),
        clients.ToDictionary(c => c.ClientId, StringComparer.Ordinal));
}
