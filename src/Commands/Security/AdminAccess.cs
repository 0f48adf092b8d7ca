using System.Globalization;
using System.Security.Claims;
using EventProfiles.Commands.Api;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace EventProfiles.Commands.Security;

/// <summary>
/// What an admin user (HTTP Basic or the web UI's session) may reach, the one rule every admin endpoint applies:
/// lists show only their workspaces' items; another workspace's item is "not found" (never its data); creating or
/// changing something for another workspace is 403 naming it; things of no workspace (org-wide) need a user of every
/// workspace. A null workspace below means "org-wide".
/// </summary>
public sealed record AdminAccess(string User, IReadOnlySet<int>? Workspaces)
{
    public static AdminAccess Of(ClaimsPrincipal user) => new(user.Identity?.Name ?? "", user.VisibleWorkspaces());

    /// <summary>Not limited to some workspaces.</summary>
    public bool SeesAll => Workspaces is null;

    public bool Sees(int? workspaceId) => Workspaces is null || (workspaceId is { } id && Workspaces.Contains(id));

    /// <summary>Something spanning several workspaces is visible only when all of them are.</summary>
    public bool SeesAllOf(IEnumerable<int> workspaceIds) => Workspaces is null || workspaceIds.All(Workspaces.Contains);

    /// <summary>Null when the user may create or change something of this workspace (null: org-wide); else the 403.</summary>
    public ProblemDetails? MayChange(int? workspaceId, string field) => Sees(workspaceId) ? null
        : workspaceId is { } id
            ? Forbidden(field, $"User '{User}' may not use workspace {id}; they may use workspace {Listed}.")
            : Forbidden(field, OrgWideMessage);

    public string OrgWideMessage => $"This covers every workspace; user '{User}' may use workspace {Listed} only.";

    private string Listed => Workspaces is null ? "any" : string.Join(", ", Workspaces.Order().Select(w => w.ToString(CultureInfo.InvariantCulture)));

    public static ProblemDetails Forbidden(string field, string message) =>
        ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError(field, message, "FORBIDDEN")]);
}
