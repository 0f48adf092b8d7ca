using System.Reflection;
using System.Text;
using System.Text.Encodings.Web;
using EventProfiles.Commands.ActivityView;
using EventProfiles.Commands.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Net.Http.Headers;

namespace EventProfiles.Host.ActivityView;

/// <summary>
/// The User Activity View's pages: plain HTML, CSS and JavaScript modules embedded in the Host (no front-end build).
/// Every page and script needs a session (no session: the sign-in page); only the sign-in page and the stylesheet and icon
/// it uses are public. The pages get their data from <c>/ui/api/…</c> (EventProfiles.Commands.ActivityView).
/// </summary>
public static class ActivityViewPages
{
    private static readonly Assembly Assembly = typeof(ActivityViewPages).Assembly;
    private const string ResourcePrefix = "ui/";

    // A strict policy: our own scripts and styles only, no inline script, no framing.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8", [".css"] = "text/css; charset=utf-8", [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    public static void MapActivityView(this WebApplication app)
    {
        app.MapGet(AdminSession.SignInPath, async (HttpContext context) =>
        {
            // Already signed in: straight on.
            var returnUrl = SignInEndpoint.SafeReturnUrl(context.Request.Query["returnUrl"]);
            if ((await context.AuthenticateAsync(AuthSchemes.AdminSession)).Succeeded) return Results.Redirect(returnUrl);
            return SignInPage(returnUrl, context.Request.Query["error"].ToString(), context.Request.Query.ContainsKey("signedOut"), StatusCodes.Status200OK);
        }).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/ui/assets/app.css", () => File("app.css")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/ui/assets/icon.svg", () => File("icon.svg")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/ui/assets/{name}", (string name) => File(name))
            .RequireAuthorization(p => p.AddAuthenticationSchemes(AuthSchemes.AdminSession).RequireAuthenticatedUser()).ExcludeFromDescription();
        // Every other page of the UI (/ui included) is the one application page; its script reads the path (deep links work).
        app.MapGet("/ui/{**path}", (string? path) => path?.StartsWith("api/", StringComparison.Ordinal) == true ? Results.NotFound() : File("index.html"))
            .RequireAuthorization(p => p.AddAuthenticationSchemes(AuthSchemes.AdminSession).RequireAuthenticatedUser()).ExcludeFromDescription();
    }

    /// <summary>The sign-in form, rendered here so it needs no script: where to go next, and why the last try failed.</summary>
    public static IResult SignInPage(string returnUrl, string error, bool signedOut, int status)
    {
        var message = error switch
        {
            "credentials" => "<p class=\"error\" role=\"alert\">Unknown user name or wrong password.</p>",
            SignInEndpoint.Throttled => "<p class=\"error\" role=\"alert\">Too many failed attempts for this user: try again later.</p>",
            "form" => "<p class=\"error\" role=\"alert\">Sign in with the form below.</p>",
            _ when signedOut => "<p class=\"notice\" role=\"status\">You are signed out.</p>",
            _ when returnUrl != "/ui/" => "<p class=\"notice\" role=\"status\">Sign in to continue (your session may have expired).</p>",
            _ => "",
        };
        using var reader = new StreamReader(Assembly.GetManifestResourceStream(ResourcePrefix + "sign-in.html")!);
        var html = reader.ReadToEnd().Replace("{{message}}", message).Replace("{{returnUrl}}", HtmlEncoder.Default.Encode(returnUrl));
        return new EmbeddedFile(new MemoryStream(Encoding.UTF8.GetBytes(html)), ContentTypes[".html"], status);
    }

    private static IResult File(string name)
    {
        var extension = Path.GetExtension(name);
        if (!ContentTypes.TryGetValue(extension, out var contentType) || name.Contains('/') || name.Contains(".."))
            return Results.NotFound();
        var stream = Assembly.GetManifestResourceStream(ResourcePrefix + name);
        if (stream is null) return Results.NotFound();
        return new EmbeddedFile(stream, contentType);
    }

    /// <summary>An embedded file with the headers every UI response carries.</summary>
    private sealed class EmbeddedFile(Stream content, string contentType, int status = StatusCodes.Status200OK) : IResult
    {
        public async Task ExecuteAsync(HttpContext context)
        {
            context.Response.StatusCode = status;
            var headers = context.Response.Headers;
            headers.ContentType = contentType;
            headers.CacheControl = "no-cache"; // revalidate: a new release's scripts are picked up at once
            headers[HeaderNames.XContentTypeOptions] = "nosniff";
            headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
            headers["Referrer-Policy"] = "same-origin";
            await using (content) await content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
    }
}
