using EventProfiles.Domain.Identity;

namespace EventProfiles.Domain.Workspaces;

/// <summary>How an input sends data, which decides how its batches change the profile (events-api.md §8).</summary>
public enum InputKind
{
    /// <summary>Server-to-server or custom feed: batch <c>user_attributes</c> are written straight to the profile.</summary>
    Server,
    /// <summary>A client SDK platform (web, iOS, Android): only <c>user_attribute_change</c> events change attributes.</summary>
    Web,
}

/// <summary>A platform or feed with its own credentials, sending into one workspace.</summary>
/// <param name="AllowKeyOnly">May IDSync and SDK calls authenticate with the key alone (x-mp-key, as the web SDK does)?</param>
public sealed record Input(string Name, InputKind Kind, string Key, string? Secret, string Environment, Workspace Workspace, bool AllowKeyOnly);

public sealed record Workspace(int Id, string Name, int AccountId, int OrgId);

/// <summary>A Profile API client (OAuth client credentials) and the workspaces it may read.</summary>
public sealed record ProfileApiClient(string ClientId, string ClientSecret, IReadOnlySet<int> WorkspaceIds);

/// <summary>The org's accounts, workspaces, inputs and API clients, as configured.</summary>
public sealed class WorkspaceDirectory
{
    private readonly Dictionary<string, Input> _inputsByKey;
    private readonly Dictionary<int, Workspace> _workspaces;
    private readonly Dictionary<string, ProfileApiClient> _clients;

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
}
