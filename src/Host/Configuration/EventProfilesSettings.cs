using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Workspaces;

namespace EventProfiles.Host.Configuration;

/// <summary>The <c>EventProfiles</c> configuration section: org, accounts, workspaces, inputs and API clients.</summary>
public sealed class EventProfilesSettings
{
    public const string Section = "EventProfiles";

    /// <summary>PostgreSQL schema holding all of EventProfiles' tables.</summary>
    public string Schema { get; set; } = "eventprofiles";
    public OrgSettings Org { get; set; } = new();
    public List<ProfileApiClientSettings> ProfileApiClients { get; set; } = [];

    /// <summary>Builds the directory, refusing a configuration that would be ambiguous at run time.</summary>
    public WorkspaceDirectory BuildDirectory()
    {
        var workspaces = new List<Workspace>();
        var inputs = new List<Input>();
        foreach (var account in Org.Accounts)
        foreach (var ws in account.Workspaces)
        {
            var workspace = new Workspace(ws.Id, ws.Name, account.Id, Org.Id);
            workspaces.Add(workspace);
            foreach (var input in ws.Inputs)
            {
                if (string.IsNullOrWhiteSpace(input.Key)) throw new InvalidOperationException($"Workspace {ws.Id}: input '{input.Name}' has no key.");
                if (input.Kind == InputKind.Server && string.IsNullOrEmpty(input.Secret))
                    throw new InvalidOperationException($"Workspace {ws.Id}: server input '{input.Name}' needs a secret.");
                if (input.Kind.IsNative() && string.IsNullOrEmpty(input.Secret))
                    throw new InvalidOperationException($"Workspace {ws.Id}: {input.Kind} input '{input.Name}' needs a secret (the SDK signs every upload with it).");
                inputs.Add(new Input(input.Name, input.Kind, input.Key, input.Secret, input.Environment, workspace,
                    input.AllowKeyOnly ?? input.Kind == InputKind.Web));
            }
        }
        Duplicates(workspaces.Select(w => w.Id.ToString()), "workspace id");
        Duplicates(inputs.Select(i => i.Key), "input key");
        Duplicates(inputs.Select(i => i.Name), "input name");

        return new WorkspaceDirectory(Org.Id, Org.Identity.Build(), workspaces, inputs, BuildClients(workspaces));
    }

    /// <summary>The API clients with their workspaces and scopes (also when the configuration is reloaded).</summary>
    public IReadOnlyList<ProfileApiClient> BuildClients(IEnumerable<Workspace> workspaces)
    {
        Duplicates(ProfileApiClients.Select(c => c.ClientId), "Profile API client id");
        return ProfileApiClients.Select(c =>
        {
            if (string.IsNullOrWhiteSpace(c.ClientId) || string.IsNullOrEmpty(c.ClientSecret))
                throw new InvalidOperationException("EventProfiles:ProfileApiClients: every client needs a ClientId and a ClientSecret.");
            if (c.Workspaces.FirstOrDefault(w => workspaces.All(x => x.Id != w)) is var missing and not 0)
                throw new InvalidOperationException($"Profile API client '{c.ClientId}' names unknown workspace {missing}.");
            if (c.Scopes?.FirstOrDefault(s => !ApiScopes.All.Contains(s)) is { } unknown)
                throw new InvalidOperationException(
                    $"EventProfiles:ProfileApiClients: client '{c.ClientId}' has unknown scope '{unknown}'; scopes: {string.Join(", ", ApiScopes.All)}.");
            return new ProfileApiClient(c.ClientId, c.ClientSecret, c.Workspaces.ToHashSet(),
                c.Scopes is { Count: > 0 } scopes ? scopes.ToHashSet(StringComparer.Ordinal) : ApiScopes.Default);
        }).ToList();
    }

    private static void Duplicates(IEnumerable<string> values, string what)
    {
        var duplicate = values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"The {what} '{duplicate.Key}' is configured twice.");
    }
}

public sealed class OrgSettings
{
    public int Id { get; set; } = 1;
    public IdentitySettingsSection Identity { get; set; } = new();
    public List<AccountSettings> Accounts { get; set; } = [];
}

/// <summary>The org's identity rules (identity.md §7); identity type names in either spelling (customer_id / customerid).</summary>
public sealed class IdentitySettingsSection
{
    public IdentityStrategy Strategy { get; set; } = IdentityStrategy.ProfileConversion;
    /// <summary>Usable for Profile API look-ups; never changes once set; always also a login and a unique type.</summary>
    public string Immutable { get; set; } = IdentitySettings.Default.ImmutableType;
    /// <summary>A profile with a login identity is only returned to a request that carries one of its login identities.</summary>
    public List<string>? Login { get; set; }
    /// <summary>Only one profile may hold a value of a unique type; setting it on one takes it from the other.</summary>
    public List<string>? Unique { get; set; }
    /// <summary>Resolution order, highest first; default: the spec's hierarchy.</summary>
    public List<string>? Priority { get; set; }
    /// <summary>
    /// Placeholder values never used to match or link people (trimmed, case-insensitive); setting the list replaces the
    /// defaults (<see cref="IdentitySettings.DefaultIgnoredValues"/>). Such values stay in the batch and on the device record.
    /// </summary>
    public List<string>? IgnoredValues { get; set; }
    /// <summary>Also ignore values made only of zeros and dashes (all-zero IDFA/IDFV/GAID/Android ID); default true.</summary>
    public bool IgnoreAllZeroValues { get; set; } = true;
    /// <summary>Merge guards (issue 21 §4): links that look like damage are held for an operator; 0 turns a rule off.</summary>
    public MergeGuardSettings MergeGuards { get; set; } = new();

    public IdentitySettings Build()
    {
        var defaults = IdentitySettings.Default;
        return IdentitySettings.Create(
            Strategy,
            TypeName(Immutable, "Immutable"),
            (Login ?? [.. defaults.LoginTypes]).Select(t => TypeName(t, "Login")),
            (Unique ?? [.. defaults.UniqueTypes]).Select(t => TypeName(t, "Unique")),
            Priority is null ? defaults.Priority : Priority.Select(t => IdentityTypes.FromName(TypeName(t, "Priority"))!).ToList())
        with
        {
            IgnoredValues = IgnoredValues is null ? defaults.IgnoredValues : IdentitySettings.IgnoredSet(IgnoredValues),
            IgnoreAllZeroValues = IgnoreAllZeroValues,
            MergeGuards = new MergeGuardPolicy(MergeGuards.PeoplePerValue, MergeGuards.IdentitiesPerTypePerDay, MergeGuards.DevicesPerHour),
        };
    }

    private static string TypeName(string configured, string setting) =>
        (IdentityTypes.FromName(configured) ?? IdentityTypes.FromUserIdentityKey(configured) ?? IdentityTypes.FromIdSyncName(configured))?.Name
        ?? throw new InvalidOperationException($"EventProfiles:Org:Identity:{setting}: '{configured}' is not an identity type.");
}

/// <summary><c>EventProfiles:Org:Identity:MergeGuards</c> (see <see cref="MergeGuardPolicy"/>).</summary>
public sealed class MergeGuardSettings
{
    public int PeoplePerValue { get; set; } = MergeGuardPolicy.Default.PeoplePerValue;
    public int IdentitiesPerTypePerDay { get; set; } = MergeGuardPolicy.Default.IdentitiesPerTypePerDay;
    public int DevicesPerHour { get; set; } = MergeGuardPolicy.Default.DevicesPerHour;
}

public sealed class AccountSettings
{
    public int Id { get; set; }
    public List<WorkspaceSettings> Workspaces { get; set; } = [];
}

public sealed class WorkspaceSettings
{
    public int Id { get; set; }
    public string Name { get; set; } = "";
    public List<InputSettings> Inputs { get; set; } = [];
}

public sealed class InputSettings
{
    /// <summary>Unique name of the input, used in logs and stored with every batch (never the key or secret).</summary>
    public string Name { get; set; } = "";
    public InputKind Kind { get; set; } = InputKind.Server;
    public string Key { get; set; } = "";
    public string? Secret { get; set; }
    /// <summary>Environment of batches that do not name one.</summary>
    public string Environment { get; set; } = "production";
    /// <summary>Whether IDSync and SDK calls may authenticate with the key alone (default: web inputs only).</summary>
    public bool? AllowKeyOnly { get; set; }
}

public sealed class ProfileApiClientSettings
{
    public string ClientId { get; set; } = "";
    public string ClientSecret { get; set; } = "";
    public List<int> Workspaces { get; set; } = [];
    /// <summary>What the client may do (<see cref="ApiScopes"/>); none listed: <c>profiles:read</c> only.</summary>
    public List<string>? Scopes { get; set; }
}

public sealed class AdminUserSettings
{
    public string Name { get; set; } = "";
    public string Password { get; set; } = "";
    /// <summary>Workspaces the user sees in the web UI; none listed: all.</summary>
    public List<int>? Workspaces { get; set; }
}
