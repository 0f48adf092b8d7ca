using EventProfiles.Commands.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>
/// The web UI's sign-in form posts here (a plain HTML form, so it works before any script loads). Success: a session
/// cookie and a redirect back to the page asked for; failure: back to the form with a reason, nothing set.
/// </summary>
public static class SignInEndpoint
{
    [WolverinePost(AdminSession.SignInPath, Name = "Web UI: sign in")]
    [AllowAnonymous]
    public static async Task<IResult> Post(HttpContext context, AdminUsers users, SignInThrottle throttle)
    {
        if (!context.Request.HasFormContentType)
            return Results.Redirect($"{AdminSession.SignInPath}?error=form", preserveMethod: false);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var returnUrl = SafeReturnUrl(form["returnUrl"].ToString());
        var name = form["username"].ToString();
        var address = context.Connection.RemoteIpAddress?.ToString();
        if (throttle.IsLockedOut(address, name))
            return Results.Redirect($"{AdminSession.SignInPath}?error=throttled&returnUrl={Uri.EscapeDataString(returnUrl)}");
        var user = users.Find(name, form["password"].ToString());
        if (user is null)
        {
            throttle.Failed(address, name);
            return Results.Redirect($"{AdminSession.SignInPath}?error=credentials&returnUrl={Uri.EscapeDataString(returnUrl)}");
        }
        await context.SignInAsync(AuthSchemes.AdminSession, user.Principal(AuthSchemes.AdminSession));
        return Results.Redirect(returnUrl);
    }

    /// <summary>Only pages of the UI itself: a sign-in link must not send anyone to another site.</summary>
    public static string SafeReturnUrl(string? url) =>
        url is { Length: > 0 } && url.StartsWith("/ui", StringComparison.Ordinal) && !url.StartsWith("//", StringComparison.Ordinal)
            && !url.Contains('\\') && !url.StartsWith(AdminSession.SignInPath, StringComparison.Ordinal)
            ? url
            : "/ui/";
}

public static class SignOutEndpoint
{
    [WolverinePost("/ui/sign-out", Name = "Web UI: sign out")]
    [Authorize(AuthenticationSchemes = AuthSchemes.AdminSession)]
    public static async Task<IResult> Post(HttpContext context)
    {
        await context.SignOutAsync(AuthSchemes.AdminSession);
        return Results.Redirect($"{AdminSession.SignInPath}?signedOut=1");
    }
}
