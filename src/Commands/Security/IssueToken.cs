using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace EventProfiles.Commands.Security;

/// <summary>The client-credentials token request (profile-api.md §5). JSON as mParticle takes it; a form post also works.</summary>
public sealed record TokenRequest(
    [property: JsonPropertyName("client_id")] string? ClientId,
    [property: JsonPropertyName("client_secret")] string? ClientSecret,
    [property: JsonPropertyName("audience")] string? Audience,
    [property: JsonPropertyName("grant_type")] string? GrantType,
    [property: JsonPropertyName("scope")] string? Scope = null);

/// <summary>The token, and (as RFC 6749 §5.1 allows) the scopes it was granted.</summary>
public sealed record TokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("scope")] string Scope);

public static class IssueTokenEndpoint
{
    public static async Task<TokenRequest?> LoadAsync(HttpRequest request)
    {
        if (request.HasFormContentType)
        {
            var form = await request.ReadFormAsync();
            return new TokenRequest(form["client_id"], form["client_secret"], form["audience"], form["grant_type"], form["scope"]);
        }
        try { return await request.ReadFromJsonAsync<TokenRequest>(); }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException) { return null; }
    }

    public static ProblemDetails Validate(TokenRequest? request)
    {
        if (request is null)
            return OAuthError(StatusCodes.Status400BadRequest, "invalid_request", "", "Send a JSON object with client_id, client_secret, audience and grant_type.");
        if (request.GrantType != "client_credentials")
            return OAuthError(StatusCodes.Status400BadRequest, "unsupported_grant_type", "grant_type", "must be \"client_credentials\".");
        if (string.IsNullOrEmpty(request.ClientId) || string.IsNullOrEmpty(request.ClientSecret))
            return OAuthError(StatusCodes.Status400BadRequest, "invalid_request", "client_id", "client_id and client_secret are required.");
        return WolverineContinue.NoProblems;
    }

    [WolverinePost("/oauth/token", Name = "Get a Profile API bearer token")]
    public static async Task<IResult> Post([NotBody] TokenRequest? request, WorkspaceDirectory directory, ProfileApiTokens tokens,
        CredentialThrottle throttle, HttpContext context)
    {
        var client = directory.ClientById(request!.ClientId!);
        var wrong = client is null || !Secrets.MatchesAny(client.AcceptedSecrets, request.ClientSecret!);
        // Secrets are guessed like passwords: the same throttle, keyed by client_id and address (unknown ids count too).
        var refusedFor = wrong
            ? await throttle.FailedAsync(CredentialThrottle.OAuthClient, request.ClientId!, context)
            : await throttle.RefusedForAsync(CredentialThrottle.OAuthClient, request.ClientId!, context);
        if (refusedFor is { } wait)
        {
            var problem = CredentialThrottle.TooManyFailures(context, wait, "client_id");
            problem.Extensions["error"] = "temporarily_unavailable";
            problem.Extensions["error_description"] = "Too many failed attempts for this client_id from this address; try again after the Retry-After delay.";
            return Results.Problem(problem);
        }
        if (wrong)
            return Results.Problem(OAuthError(StatusCodes.Status401Unauthorized, "invalid_client", "client_id", "Unknown client or wrong secret."));
        var known = client!; // not wrong, so it exists
        // A request may narrow the token to some of the client's scopes (least privilege), never widen it.
        var asked = (request.Scope ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        if (asked.FirstOrDefault(s => !known.Scopes.Contains(s)) is { } notGranted)
            return Results.Problem(OAuthError(StatusCodes.Status400BadRequest, "invalid_scope", "scope",
                $"\"{notGranted}\" is not a scope of this client; it has: {string.Join(" ", known.Scopes.Order(StringComparer.Ordinal))}."));
        var scopes = (asked.Count > 0 ? asked : known.Scopes).Order(StringComparer.Ordinal).ToList();
        return Results.Ok(new TokenResponse(tokens.Issue(known, scopes), (int)ProfileApiTokenOptions.Lifetime.TotalSeconds, "Bearer", string.Join(' ', scopes)));
    }

    /// <summary>ProblemDetails that also carries RFC 6749's <c>error</c> and <c>error_description</c>.</summary>
    private static ProblemDetails OAuthError(int status, string error, string field, string description)
    {
        var problem = ApiProblems.Create(status, status == 401 ? "Unauthorized" : "Invalid token request",
            [new FieldError(field, description, error.ToUpperInvariant())]);
        problem.Extensions["error"] = error;
        problem.Extensions["error_description"] = description;
        return problem;
    }
}
