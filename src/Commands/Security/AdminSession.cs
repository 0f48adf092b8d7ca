using System.Globalization;
using System.Security.Claims;
using EventProfiles.Commands.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EventProfiles.Commands.Security;

/// <summary>
/// The web UI's sign-in session: an HttpOnly, SameSite=Strict cookie that expires after a quiet period (sliding). Pages
/// without a session go to the sign-in page; data calls get a 401 problem, never a redirect or data.
/// </summary>
public static class AdminSession
{
    public const string CookieName = "ep_session";
    public const string SignInPath = "/ui/sign-in";

    public static AuthenticationBuilder AddAdminSession(this AuthenticationBuilder builder, TimeSpan idleTimeout)
    {
        // Sessions expire on the Host's clock (the one tests can move).
        builder.Services.AddOptions<CookieAuthenticationOptions>(AuthSchemes.AdminSession).Configure<TimeProvider>((o, clock) => o.TimeProvider = clock);
        return builder.AddCookie(AuthSchemes.AdminSession, o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict; // no cross-site request carries the session: no CSRF on the UI's calls
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/";
            o.ExpireTimeSpan = idleTimeout;
            o.SlidingExpiration = true;
            o.LoginPath = SignInPath;
            o.ReturnUrlParameter = "returnUrl";
            o.Events.OnRedirectToLogin = context => IsPage(context.Request)
                ? Redirect(context)
                : ApiProblems.WriteAsync(context.HttpContext, ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized",
                    [new FieldError("session", "Sign in to the web UI first (or your session expired).", "UNAUTHORIZED")]));
            // A session follows its user as now stored: a deleted user is signed out, changed workspaces apply at once.
            o.Events.OnValidatePrincipal = context =>
            {
                var name = context.Principal?.Identity?.Name ?? "";
                if (context.HttpContext.RequestServices.GetRequiredService<AdminUsers>().ByName(name) is not { } user) context.RejectPrincipal();
                else if (!SameWorkspaces(context.Principal!.VisibleWorkspaces(), user.Workspaces)) context.ReplacePrincipal(user.Principal(AuthSchemes.AdminSession));
                return Task.CompletedTask;
            };
            o.Events.OnRedirectToAccessDenied = context => ApiProblems.WriteAsync(context.HttpContext,
                ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError("session", "This user may not do this.", "FORBIDDEN")]));
        })
        .AddPolicyScheme(AuthSchemes.AdminOrSession, "Admin Basic or web UI session", o => o.ForwardDefaultSelector = context =>
            string.IsNullOrEmpty(context.Request.Headers.Authorization.ToString()) ? AuthSchemes.AdminSession : AuthSchemes.Admin);
    }

    private static bool SameWorkspaces(IReadOnlySet<int>? session, IReadOnlyList<int>? stored) =>
        session is null ? stored is null : stored is not null && session.SetEquals(stored);

    /// <summary>UI pages (not its data API, not the admin API) are navigations: answer them with the sign-in page.</summary>
    private static bool IsPage(HttpRequest request) =>
        request.Path.StartsWithSegments("/ui") && !request.Path.StartsWithSegments("/ui/api") && HttpMethods.IsGet(request.Method);

    private static Task Redirect(RedirectContext<CookieAuthenticationOptions> context)
    {
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }

    /// <summary>The workspaces a signed-in user may see, from their claims (null: all).</summary>
    public static IReadOnlySet<int>? VisibleWorkspaces(this ClaimsPrincipal user)
    {
        var claims = user.FindAll(AdminUser.WorkspaceClaim).Select(c => c.Value).ToList();
        if (claims.Contains(AdminUser.AllWorkspaces)) return null;
        return claims.Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToHashSet();
    }

    public static bool MaySee(this ClaimsPrincipal user, int workspaceId) => user.VisibleWorkspaces() is not { } visible || visible.Contains(workspaceId);
}
