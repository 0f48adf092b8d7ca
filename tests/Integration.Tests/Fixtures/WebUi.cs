using System.Net;
using System.Text.Json.Nodes;

namespace EventProfiles.Integration.Tests.Fixtures;

/// <summary>The web UI as a browser uses it: a cookie jar, no automatic redirects (so tests see them).</summary>
public static class WebUi
{
    public static HttpClient Browser(this AppFixture app, CookieContainer? cookies = null) =>
        new(new HttpClientHandler { CookieContainer = cookies ?? new CookieContainer(), AllowAutoRedirect = false })
        {
            BaseAddress = app.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60),
        };

    public static Task<HttpResponseMessage> SignIn(this HttpClient browser, string user, string password, string returnUrl = "/ui/") =>
        browser.PostAsync("/ui/sign-in", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["username"] = user, ["password"] = password, ["returnUrl"] = returnUrl,
        }));

    /// <summary>A browser signed in as the development admin (or another configured user).</summary>
    public static async Task<HttpClient> SignedIn(this AppFixture app, string user = "admin", string password = "admin-password")
    {
        var browser = app.Browser();
        using var response = await browser.SignIn(user, password);
        response.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        response.Headers.Location!.ToString().ShouldBe("/ui/");
        return browser;
    }

    public static async Task<JsonObject> UiJson(this HttpClient browser, string path)
    {
        using var response = await browser.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        response.StatusCode.ShouldBe(HttpStatusCode.OK, text);
        return JsonNode.Parse(text)!.AsObject();
    }
}
