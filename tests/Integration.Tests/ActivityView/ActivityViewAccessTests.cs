using System.Net;
using System.Net.Http.Headers;
using EventProfiles.Integration.Tests.Fixtures;

namespace EventProfiles.Integration.Tests.ActivityView;

/// <summary>The web UI's sign-in: no page, script or data without a session; sessions end when idle or signed out.</summary>
[Collection(AppCollection.Name)]
public class ActivityViewAccessTests(AppFixture app)
{
    private static readonly string[] Pages = ["/ui/", "/ui", "/ui/people/123", "/ui/live", "/ui/anything/else", "/ui/assets/app.js", "/ui/assets/person.js", "/ui/assets/live.js"];
    private static readonly string[] DataCalls =
    [
        "/ui/api/session", "/ui/api/search?q=someone@example.org", "/ui/api/people/123", "/ui/api/people/123/events",
        "/ui/api/people/123/activity", "/ui/api/people/123/requests", "/api/admin/live-stream",
    ];

    [Fact]
    public async Task every_ui_page_and_the_data_it_calls_is_refused_without_a_session()
    {
        using var browser = app.Browser();
        foreach (var page in Pages)
        {
            using var response = await browser.GetAsync(page);
            response.StatusCode.ShouldBe(HttpStatusCode.Redirect, page);
            response.Headers.Location!.ToString().ShouldContain($"/ui/sign-in?returnUrl={Uri.EscapeDataString(page)}", Case.Sensitive, page);
            (await response.Content.ReadAsStringAsync()).ShouldBeEmpty(page);
        }
        foreach (var call in DataCalls)
        {
            using var response = await browser.GetAsync(call);
            response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized, call);
            response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json", call);
        }
        using (var signOut = await browser.PostAsync("/ui/sign-out", null)) signOut.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        using (var request = await browser.PostAsync("/ui/api/people/123/requests", new StringContent("{}", System.Text.Encoding.UTF8, "application/json")))
            request.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        // Only the sign-in form and its stylesheet are public, and they hold no data.
        using (var form = await browser.GetAsync("/ui/sign-in")) form.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var css = await browser.GetAsync("/ui/assets/app.css")) css.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task wrong_credentials_forged_cookies_and_admin_basic_do_not_open_the_ui()
    {
        using var browser = app.Browser();
        using (var wrong = await browser.SignIn("admin", "not-the-password", "/ui/live"))
        {
            wrong.StatusCode.ShouldBe(HttpStatusCode.Redirect);
            wrong.Headers.Location!.ToString().ShouldBe("/ui/sign-in?error=credentials&returnUrl=%2Fui%2Flive");
            wrong.Headers.Contains("Set-Cookie").ShouldBeFalse();
        }
        using (var session = await browser.GetAsync("/ui/api/session")) session.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        using var forged = new HttpRequestMessage(HttpMethod.Get, "/ui/api/session");
        forged.Headers.Add("Cookie", "ep_session=CfDJ8forged-value");
        using (var response = await app.NewClient().SendAsync(forged)) response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        // The admin API's Basic credentials are for the admin API; the UI's data needs a signed-in session.
        using var basic = new HttpRequestMessage(HttpMethod.Get, "/ui/api/session");
        basic.Headers.Authorization = AppFixture.Basic("admin", "admin-password");
        using (var response = await app.NewClient().SendAsync(basic)) response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task sign_in_returns_to_the_page_asked_for_and_never_to_another_site()
    {
        using var browser = app.Browser();
        using (var signedIn = await browser.SignIn("admin", "admin-password", "/ui/live?input=x"))
        {
            signedIn.Headers.Location!.ToString().ShouldBe("/ui/live?input=x");
            var cookie = signedIn.Headers.GetValues("Set-Cookie").Single();
            cookie.ShouldContain("httponly", Case.Insensitive);
            cookie.ShouldContain("samesite=strict", Case.Insensitive);
        }
        foreach (var elsewhere in new[] { "https://evil.example/", "//evil.example/", "/\\evil.example", "/docs" })
        {
            using var other = app.Browser();
            using var response = await other.SignIn("admin", "admin-password", elsewhere);
            response.Headers.Location!.ToString().ShouldBe("/ui/", elsewhere);
        }
        (await browser.UiJson("/ui/api/session"))["user"]!.GetValue<string>().ShouldBe("admin");
    }

    [Fact]
    public async Task a_session_ends_after_an_idle_hour_and_on_sign_out()
    {
        using var browser = await app.SignedIn();
        (await browser.UiJson("/ui/api/session"))["user"]!.GetValue<string>().ShouldBe("admin");
        try
        {
            app.Clock.Advance(TimeSpan.FromMinutes(61));
            using (var expired = await browser.GetAsync("/ui/api/session")) expired.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
            using (var page = await browser.GetAsync("/ui/")) page.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        }
        finally
        {
            app.Clock.Reset();
        }

        using var again = await app.SignedIn();
        using (var signOut = await again.PostAsync("/ui/sign-out", null))
        {
            signOut.StatusCode.ShouldBe(HttpStatusCode.Redirect);
            signOut.Headers.Location!.ToString().ShouldBe("/ui/sign-in?signedOut=1");
        }
        using (var after = await again.GetAsync("/ui/api/session")) after.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task the_pages_are_served_with_a_strict_content_security_policy()
    {
        using var browser = await app.SignedIn();
        using var page = await browser.GetAsync("/ui/people/42");
        page.StatusCode.ShouldBe(HttpStatusCode.OK);
        page.Content.Headers.ContentType!.MediaType.ShouldBe("text/html");
        page.Headers.GetValues("Content-Security-Policy").Single().ShouldContain("script-src 'self'");
        (await page.Content.ReadAsStringAsync()).ShouldContain("/ui/assets/app.js");
        using var script = await browser.GetAsync("/ui/assets/person.js");
        script.Content.Headers.ContentType!.MediaType.ShouldBe("text/javascript");
        using var missing = await browser.GetAsync("/ui/assets/nothing.js");
        missing.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task repeated_wrong_passwords_lock_that_user_name_out_for_a_while_even_with_the_right_password()
    {
        // A user of its own: the lock-out is per (address, user name), so no other test's sign-ins are affected.
        using var browser = app.Browser();
        for (var attempt = 0; attempt < 10; attempt++)
        {
            using var wrong = await browser.SignIn(AppFixture.LockoutUser, $"guess-{attempt}");
            wrong.Headers.Location!.ToString().ShouldStartWith("/ui/sign-in?error=credentials");
        }
        using (var locked = await browser.SignIn(AppFixture.LockoutUser, AppFixture.LockoutPassword))
        {
            // The form again, saying why, as a 429 with Retry-After; no session.
            locked.StatusCode.ShouldBe(HttpStatusCode.TooManyRequests);
            locked.Headers.RetryAfter.ShouldNotBeNull();
            locked.Headers.Contains("Set-Cookie").ShouldBeFalse();
            var form = await locked.Content.ReadAsStringAsync();
            form.ShouldContain("Too many failed attempts");
            form.ShouldContain("try again later");
            form.ShouldContain("<form method=\"post\" action=\"/ui/sign-in\">");
        }
        using (var admin = await app.Browser().SignIn("admin", "admin-password")) admin.Headers.Location!.ToString().ShouldBe("/ui/"); // others still can
    }
}
