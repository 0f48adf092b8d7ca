using System.Security.Cryptography;
using System.Text;
using EventProfiles.Commands.Api;
using EventProfiles.Domain.Workspaces;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace EventProfiles.Commands.NativeSdks;

/// <summary>
/// The native SDKs' request signature (native-sdks.md §2.2): lower-case hex HMAC-SHA256 with the input's secret over
/// <c>METHOD\nDATE\nSIGNED_PATH</c> + the uncompressed body. The signed path is the canonical mParticle one
/// (<c>/v2/{key}/events</c>, <c>/v4/{key}/config?…</c>) whatever path the request used (CNAME family, overridden
/// hosts). <c>Date</c> is signed as an opaque string: Android writes it in the phone's zone (<c>CEST</c>,
/// <c>GMT+05:30</c>), which is not RFC 1123, and phones have wrong clocks (§2.3), so it is not checked against ours;
/// a replayed upload is harmless because uploads are deduplicated by batch and message id.
/// </summary>
public static class NativeSignature
{
    public const string Header = "x-mp-signature";

    /// <summary>The input a native call names, or the 401/403 its credentials earn (the SDKs delete the batch on either).</summary>
    public static ProblemDetails? Check(Input? input, HttpRequest request, IEnumerable<string> signedPaths, ReadOnlySpan<byte> body)
    {
        if (input is null)
            return ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized", [new FieldError("apiKey", "Unknown API key.", "UNAUTHORIZED")]);
        if (input.AcceptedSecrets.Count == 0 || input.Kind == InputKind.Web)
            return ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden",
                [new FieldError("apiKey", "This input does not take native SDK calls: use an iOS or Android input (with a secret).", "FORBIDDEN")]);
        var signature = request.Headers[Header].ToString();
        var date = request.Headers.Date.ToString();
        if (signature.Length == 0 || date.Length == 0)
            return ApiProblems.Create(StatusCodes.Status401Unauthorized, "Unauthorized",
                [new FieldError(signature.Length == 0 ? Header : "Date", "Native SDK calls are signed: send Date and x-mp-signature.", "UNAUTHORIZED")]);
        var sent = Encoding.ASCII.GetBytes(signature.ToLowerInvariant());
        var paths = signedPaths.ToList();
        foreach (var secret in input.AcceptedSecrets) // two during a rotation
        foreach (var path in paths)
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Compute(secret, request.Method, date, path, body)), sent))
                return null;
        return ApiProblems.Create(StatusCodes.Status403Forbidden, "Forbidden", [new FieldError(Header, "The x-mp-signature does not match.", "FORBIDDEN")]);
    }

    public static string Compute(string secret, string method, string date, string signedPath, ReadOnlySpan<byte> body)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.UTF8.GetBytes($"{method}\n{date}\n{signedPath}"));
        hmac.AppendData(body);
        return Convert.ToHexStringLower(hmac.GetHashAndReset());
    }
}
