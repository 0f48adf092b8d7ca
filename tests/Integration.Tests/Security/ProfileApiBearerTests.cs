using System.Net;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Workspaces;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.IdentityModel.Tokens;

namespace EventProfiles.Integration.Tests.Security;

/// <summary>
/// The Profile API's own bearer handler (it replaced JwtBearer for the per-read cost, docs/operations.md "Profile API
/// reads"): what JwtBearer accepted and refused, it accepts and refuses; the token check it caches still refuses
/// expired and foreign tokens.
/// </summary>
[Collection(AppCollection.Name)]
public class ProfileApiBearerTests(AppFixture app)
{
    private static readonly ProfileApiClient Client = new("bearer-test", "secret", new HashSet<int> { 1 }, new HashSet<string> { ApiScopes.ProfilesRead });

    private async Task<long> KnownPerson()
    {
        var customer = Api.NewId("bearer");
        await app.Ingested($$"""{ "environment": "development", "user_identities": { "customer_id": "{{customer}}" } }""");
        return (await app.ProfileOf(customer))["mpid"]!.GetValue<long>();
    }

    private async Task<HttpResponseMessage> Read(long mpid, string? authorization)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/userprofile/v1/1/1/1/{mpid}?fields=user_identities");
        if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return await app.Client.SendAsync(request);
    }

    [Fact]
    public async Task the_scheme_name_is_case_insensitive_and_spaces_around_the_token_do_not_count()
    {
        var mpid = await KnownPerson();
        var token = await app.Token();
        using (var lower = await Read(mpid, $"bearer {token}")) lower.StatusCode.ShouldBe(HttpStatusCode.OK);
        using (var spaced = await Read(mpid, $"Bearer   {token}  ")) spaced.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Theory]
    [InlineData("Basic ZGVtby1rZXk6ZGVtby1zZWNyZXQ=", "Send a bearer token")]
    [InlineData("Bearer ", "Send a bearer token")]
    [InlineData("Bearer not-a-token", "invalid or expired")]
    public async Task anything_but_a_valid_bearer_token_is_a_401_problem_saying_why(string authorization, string reason)
    {
        var mpid = await KnownPerson();
        using var response = await Read(mpid, authorization);
        response.StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        response.Headers.WwwAuthenticate.ToString().ShouldBe("Bearer");
        var error = (await response.Errors()).Single();
        error.Field.ShouldBe("Authorization");
        error.Message.ShouldContain(reason);
    }

    [Fact]
    public async Task an_expired_token_is_refused()
    {
        var key = new SymmetricSecurityKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var nineHoursAgo = new TestClock();
        nineHoursAgo.Advance(TimeSpan.FromHours(-9)); // its 8-hour lifetime ended an hour ago
        var token = new ProfileApiTokens(key, nineHoursAgo).Issue(Client, Client.Scopes);

        var (claims, failure) = await new ProfileApiTokens(key, TimeProvider.System).CheckAsync(token);
        claims.ShouldBeNull();
        failure.ShouldBeOfType<SecurityTokenExpiredException>();
    }

    [Fact]
    public async Task a_token_signed_with_another_key_is_refused_even_after_a_valid_one_was_checked()
    {
        var ours = new ProfileApiTokens(new SymmetricSecurityKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), TimeProvider.System);
        var theirs = new ProfileApiTokens(new SymmetricSecurityKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)), TimeProvider.System);
        (await ours.CheckAsync(ours.Issue(Client, Client.Scopes))).Claims.ShouldNotBeNull();

        var (claims, failure) = await ours.CheckAsync(theirs.Issue(Client, Client.Scopes));
        claims.ShouldBeNull();
        failure.ShouldNotBeNull();
    }

    [Fact]
    public void the_host_depends_on_the_token_library_it_uses_and_not_on_the_jwt_bearer_middleware_it_replaced()
    {
        // The Host's dependency closure as built (its deps.json beside the tests): what it ships and loads.
        using var deps = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "EventProfiles.Host.deps.json")));
        var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name.Split('/')[0]).ToList();
        libraries.ShouldContain("Microsoft.IdentityModel.JsonWebTokens");
        libraries.ShouldNotContain("Microsoft.AspNetCore.Authentication.JwtBearer");
    }
}
