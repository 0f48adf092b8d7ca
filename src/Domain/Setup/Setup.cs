using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Domain.Setup;

// The platform's own configuration as stored documents (docs/operations.md, "Configuration"): appsettings only seeds an
// empty database; after that these are the truth, and WorkspaceDirectory is rebuilt from them on every node.

/// <summary>
/// The org: its id, identity rules and the version of the whole configuration. Every change raises
/// <see cref="Version"/> in the same transaction, which is what every node watches to rebuild its directory.
/// </summary>
public sealed record SetupOrg(string Id, int OrgId, long Version, SetupIdentity Identity, DateTimeOffset SeededAt)
{
    public const string TheId = "org";
}

public sealed record SetupWorkspace(int Id, string Name, int AccountId, DateTimeOffset CreatedAt);

/// <summary>
/// A secret as stored: <paramref name="Protected"/> is the secret encrypted with ASP.NET Core Data Protection (input
/// secrets are needed in clear to verify HMAC signatures, so they are encrypted, not hashed). Several at once during a rotation.
/// </summary>
public sealed record StoredSecret(string Id, string Protected, DateTimeOffset CreatedAt);

/// <summary>An input; its id is its name (stored with every batch, so never reused for another input once disabled).</summary>
public sealed record SetupInput(
    string Id, int WorkspaceId, InputKind Kind, string Environment, bool AllowKeyOnly, string Key,
    IReadOnlyList<StoredSecret> Secrets, bool Disabled, DateTimeOffset CreatedAt);

/// <summary>A Profile/Platform API client (OAuth client credentials); its id is its client_id.</summary>
public sealed record SetupApiClient(string Id, IReadOnlyList<int> Workspaces, IReadOnlyList<string> Scopes,
    IReadOnlyList<StoredSecret> Secrets, DateTimeOffset CreatedAt);

/// <summary>An admin user; <paramref name="PasswordHash"/> from ASP.NET Core's PasswordHasher (salted PBKDF2), never the password.</summary>
public sealed record SetupAdminUser(string Id, string PasswordHash, IReadOnlyList<int>? Workspaces, DateTimeOffset CreatedAt);

/// <summary>Who changed what, when: one per change, never updated (secrets are never part of <paramref name="Details"/>).</summary>
public sealed record SetupChange(Guid Id, long Version, DateTimeOffset At, string By, string What, string Subject, string Details);

/// <summary>The kinds of <see cref="SetupChange"/>, past-tense facts.</summary>
public static class SetupChanges
{
    public const string ConfigurationSeeded = nameof(ConfigurationSeeded);
    public const string WorkspaceCreated = nameof(WorkspaceCreated);
    public const string WorkspaceRenamed = nameof(WorkspaceRenamed);
    public const string InputCreated = nameof(InputCreated);
    public const string InputChanged = nameof(InputChanged);
    public const string InputDisabled = nameof(InputDisabled);
    public const string InputSecretAdded = nameof(InputSecretAdded);
    public const string InputSecretRevoked = nameof(InputSecretRevoked);
    public const string ApiClientCreated = nameof(ApiClientCreated);
    public const string ApiClientChanged = nameof(ApiClientChanged);
    public const string ApiClientDeleted = nameof(ApiClientDeleted);
    public const string ApiClientSecretAdded = nameof(ApiClientSecretAdded);
    public const string ApiClientSecretRevoked = nameof(ApiClientSecretRevoked);
    public const string AdminUserCreated = nameof(AdminUserCreated);
    public const string AdminUserChanged = nameof(AdminUserChanged);
    public const string AdminUserDeleted = nameof(AdminUserDeleted);
    public const string IdentitySettingsChanged = nameof(IdentitySettingsChanged);
}

/// <summary>The org's identity rules as stored (identity.md §7); type names in any of their spellings.</summary>
public sealed record SetupIdentity(
    IdentityStrategy Strategy, string Immutable, IReadOnlyList<string> Login, IReadOnlyList<string> Unique,
    IReadOnlyList<string>? Priority, IReadOnlyList<string> IgnoredValues, bool IgnoreAllZeroValues,
    MergeGuardPolicy? MergeGuards = null)
{
    public static SetupIdentity From(IdentitySettings settings) => new(
        settings.Strategy, settings.ImmutableType, [.. settings.LoginTypes.Order(StringComparer.Ordinal)], [.. settings.UniqueTypes.Order(StringComparer.Ordinal)],
        [.. settings.Priority.Select(p => p.Name)], [.. settings.IgnoredValues.Order(StringComparer.Ordinal)], settings.IgnoreAllZeroValues, settings.MergeGuards);

    /// <summary>What is wrong with these rules, as (field, reason) pairs; none: <see cref="Build"/> succeeds.</summary>
    public IReadOnlyList<(string Field, string Reason)> Problems()
    {
        var problems = new List<(string, string)>();
        if (TypeName(Immutable) is null) problems.Add(("immutable", $"'{Immutable}' is not an identity type."));
        Check(Login, "login", problems);
        Check(Unique, "unique", problems);
        if (Priority is not null) Check(Priority, "priority", problems);
        if (IgnoredValues.Count > 1_000) problems.Add(("ignored_values", "at most 1,000 values."));
        if (MergeGuards is { PeoplePerValue: < 0 } or { IdentitiesPerTypePerDay: < 0 } or { DevicesPerHour: < 0 })
            problems.Add(("merge_guards", "limits are 0 (off) or more."));
        return problems;
    }

    public IdentitySettings Build()
    {
        if (Problems() is [var first, ..]) throw new InvalidOperationException($"Identity settings: {first.Field} {first.Reason}");
        return IdentitySettings.Create(Strategy, TypeName(Immutable)!, Login.Select(t => TypeName(t)!), Unique.Select(t => TypeName(t)!),
                Priority is null ? IdentityTypes.DefaultPriority : Priority.Select(t => IdentityTypes.FromName(TypeName(t)!)!).ToList())
            with
            {
                IgnoredValues = IdentitySettings.IgnoredSet(IgnoredValues),
                IgnoreAllZeroValues = IgnoreAllZeroValues,
                MergeGuards = MergeGuards ?? MergeGuardPolicy.Default,
            };
    }

    private static void Check(IReadOnlyList<string> types, string field, List<(string, string)> problems)
    {
        for (var i = 0; i < types.Count; i++)
            if (TypeName(types[i]) is null) problems.Add(($"{field}[{i}]", $"'{types[i]}' is not an identity type."));
    }

    private static string? TypeName(string name) =>
        (IdentityTypes.FromName(name) ?? IdentityTypes.FromUserIdentityKey(name) ?? IdentityTypes.FromIdSyncName(name))?.Name;
}

/// <summary>Everything the configuration holds, as read in one go.</summary>
public sealed record SetupSnapshot(
    SetupOrg Org, IReadOnlyList<SetupWorkspace> Workspaces, IReadOnlyList<SetupInput> Inputs,
    IReadOnlyList<SetupApiClient> Clients, IReadOnlyList<SetupAdminUser> Users)
{
    /// <summary>
    /// The directory's contents: enabled inputs with every secret they accept (the oldest first, so <see cref="Input.Secret"/>
    /// is the one in use before a rotation), clients likewise. <paramref name="unprotect"/> decrypts a stored secret.
    /// </summary>
    public (List<Workspace> Workspaces, List<Input> Inputs, List<ProfileApiClient> Clients) DirectoryParts(Func<string, string> unprotect)
    {
        var workspaces = Workspaces.Select(w => new Workspace(w.Id, w.Name, w.AccountId, Org.OrgId)).ToDictionary(w => w.Id);
        var inputs = new List<Input>();
        foreach (var input in Inputs.Where(i => !i.Disabled && workspaces.ContainsKey(i.WorkspaceId)))
        {
            var secrets = input.Secrets.OrderBy(s => s.CreatedAt).Select(s => unprotect(s.Protected)).ToList();
            inputs.Add(new Input(input.Id, input.Kind, input.Key, secrets.FirstOrDefault(), input.Environment, workspaces[input.WorkspaceId], input.AllowKeyOnly)
            {
                AcceptedSecrets = secrets,
            });
        }
        var clients = Clients.Select(c =>
        {
            var secrets = c.Secrets.OrderBy(s => s.CreatedAt).Select(s => unprotect(s.Protected)).ToList();
            return new ProfileApiClient(c.Id, secrets.FirstOrDefault() ?? "", c.Workspaces.ToHashSet(),
                c.Scopes.Count > 0 ? c.Scopes.ToHashSet(StringComparer.Ordinal) : ApiScopes.Default) { AcceptedSecrets = secrets };
        }).ToList();
        return ([.. workspaces.Values], inputs, clients);
    }
}
