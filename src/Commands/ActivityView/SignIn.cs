using EventProfiles.Commands.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Wolverine.Http;

namespace EventProfiles.Commands.ActivityView;

/// <summary>
/// The web UI's sign-in form posts here (a plain HTML form, so it works before any script loads). Success: a session
/// cookie and a redirect back to the page asked for; failure: back to the form with a reason, nothing set; too many
/// failures for the user name from this address (<see cref="CredentialThrottle"/>, shared with the admin API's Basic):
/// 429 with Retry-After and the form saying to try again later.
/// </summary>
public static class SignInEndpoint
{
    public const string Throttled = "throttled";

    [WolverinePost(AdminSession.SignInPath, Name = "Web UI: sign in")]
    [AllowAnonymous]
    public static async Task<IResult> Post(HttpContext context, AdminUsers users, CredentialThrottle throttle, SignInForm form)
    {
        if (!context.Request.HasFormContentType)
            return Results.Redirect($"{AdminSession.SignInPath}?error=form", preserveMethod: false);
        var fields = await context.Request.ReadFormAsync(context.RequestAborted);
        var returnUrl = SafeReturnUrl(fields["returnUrl"].ToString());
        var name = fields["username"].ToString();
        var user = users.Find(name, fields["password"].ToString());
        var refusedFor = user is null
            ? await throttle.FailedAsync(CredentialThrottle.Admin, name, context)
            : await throttle.RefusedForAsync(CredentialThrottle.Admin, name, context);
        if (refusedFor is { } wait)
        {
            context.Response.Headers.RetryAfter = CredentialThrottle.RetryAfterSeconds(wait);
            return form.Render(returnUrl, Throttled, StatusCodes.Status429TooManyRequests);
        }
        if (user is null)
            return Results.Redirect($"{AdminSession.SignInPath}?error=credentials&returnUrl={Uri.EscapeDataString(returnUrl)}");
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

/// <summary>The sign-in page as the Host renders it (its HTML lives with the UI's pages): return URL, error, status.</summary>
public sealed record SignInForm(Func<string, string, int, IResult> Render);

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
