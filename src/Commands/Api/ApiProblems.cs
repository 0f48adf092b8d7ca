using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace EventProfiles.Commands.Api;

/// <summary>One thing wrong with a request: the field (JSON path as the client wrote it) and why.</summary>
public sealed record FieldError(string Field, string Message, string Code = ApiProblems.BadRequestCode);

/// <summary>
/// Error bodies: RFC 7807 ProblemDetails that also carry mParticle's documented <c>errors</c> array
/// (<c>[{code, message}]</c>, events-api.md §3), each entry naming its <c>field</c>. mParticle clients read
/// <c>errors</c>; everything else reads the ProblemDetails members.
/// </summary>
public static class ApiProblems
{
    public const string BadRequestCode = "BAD_REQUEST";

    public static ProblemDetails Invalid(IReadOnlyCollection<FieldError> errors, string title = "The request is invalid") =>
        Create(StatusCodes.Status400BadRequest, title, errors);

    public static ProblemDetails TooLarge(string field, string message) =>
        Create(StatusCodes.Status413PayloadTooLarge, "The request is too large", [new FieldError(field, message, "PAYLOAD_TOO_LARGE")]);

    public static ProblemDetails Create(int status, string title, IReadOnlyCollection<FieldError> errors)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Title = title,
            Type = $"https://httpstatuses.io/{status}",
            Detail = string.Join(" ", errors.Take(10).Select(e => e.Field.Length > 0 ? $"{e.Field}: {e.Message}" : e.Message)),
        };
        problem.Extensions["errors"] = errors
            .Select(e => new Dictionary<string, string> { ["code"] = e.Code, ["field"] = e.Field, ["message"] = e.Message })
            .ToList();
        return problem;
    }

    /// <summary>Writes a problem straight to the response (authentication handlers have no IResult pipeline).</summary>
    public static Task WriteAsync(HttpContext context, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status ?? StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/problem+json";
        return context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(problem));
    }
}
