using System.IO.Compression;
using EventProfiles.Commands.Ingestion;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Net.Http.Headers;

namespace EventProfiles.Commands.Api;

/// <summary>The body grew past its endpoint's limit while being read (after decompression).</summary>
public sealed class BodyTooLargeException(BodyLimit limit)
    : IOException($"The request body is larger than {limit.MaxBytes} bytes.")
{
    public BodyLimit Limit { get; } = limit;
}

/// <summary>The body does not decode with the Content-Encoding it claims.</summary>
public sealed class BodyEncodingException(string encoding, Exception inner)
    : IOException($"The body is not valid {encoding} data.", inner)
{
    public string Encoding { get; } = encoding;
}

/// <summary>
/// Every request body, for every endpoint, goes through here (issue 14, items 13 and 14):
/// <list type="number">
/// <item><see cref="LimitAsync"/> (before authentication, so HMAC verification reads the same bounded body):
/// decompresses gzip, br and deflate, and caps what is read at the endpoint's limit <i>after</i> decompression
/// (<see cref="BodyLimits"/>) — a compression bomb stops at the limit with a 413 instead of inflating; a body that
/// is not what its Content-Encoding says is a 400. It also turns the errors a body read can raise anywhere later
/// (in an authentication handler, a parser, an upload) into those 4xx answers, never a 500.</item>
/// <item><see cref="CheckJsonAsync"/> (after authorization, so unauthenticated callers learn nothing about the body):
/// reads a JSON body once, refuses invalid UTF-8, NUL characters, unpaired surrogates and unstorable numbers with the
/// JSON path of the field (<see cref="JsonBodyCheck"/>), and hands the endpoint the checked bytes.</item>
/// </list>
/// </summary>
public sealed class RequestBodyMiddleware(BodyLimits limits)
{
    private const int ReadChunk = 16 * 1024;

    public async Task LimitAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        var limit = limits.For(request.Path.Value ?? "");
        if (limit.Kind == BodyKind.Stream && context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } kestrel)
            kestrel.MaxRequestBodySize = limit.MaxBytes; // the server's own (30 MB) limit would stop an import first

        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        var compressed = encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase);
        if (!compressed && request.ContentLength > limit.MaxBytes)
        {
            await ApiProblems.WriteAsync(context, TooLarge(limit, request.ContentLength.Value));
            return;
        }
        if (compressed)
        {
            Stream? decoder = encoding.ToLowerInvariant() switch
            {
                "gzip" or "x-gzip" => new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
                "br" => new BrotliStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
                "deflate" => new DeflateStream(request.Body, CompressionMode.Decompress, leaveOpen: true),
                _ => null,
            };
            if (decoder is null)
            {
                await ApiProblems.WriteAsync(context, ApiProblems.Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported Content-Encoding",
                    [new FieldError("Content-Encoding", $"\"{encoding}\" is not supported: send gzip, br, deflate or an uncompressed body.", "UNSUPPORTED_ENCODING")]));
                return;
            }
            context.Response.RegisterForDispose(decoder); // frees the native decompressor when the request ends
            request.Body = new DecodingStream(decoder, encoding);
            // What follows reads the decompressed body, whose length nobody knows yet.
            request.Headers.Remove(HeaderNames.ContentEncoding);
            request.Headers.ContentLength = null;
        }
        request.Body = new CappedStream(request.Body, limit);

        try
        {
            await next();
        }
        catch (Exception ex) when (ProblemOf(ex, limit) is { } problem && !context.Response.HasStarted)
        {
            await ApiProblems.WriteAsync(context, problem);
        }
    }

    public async Task CheckJsonAsync(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        if (ProblemOfTarget(request) is { } targetProblem)
        {
            await ApiProblems.WriteAsync(context, targetProblem);
            return;
        }
        var limit = limits.For(request.Path.Value ?? "");
        if (limit.Kind != BodyKind.Json || request.HasFormContentType || !HasBody(context))
        {
            await next();
            return;
        }
        if (!IsUtf8(request.ContentType))
        {
            await ApiProblems.WriteAsync(context, ApiProblems.Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported character set",
                [new FieldError("Content-Type", $"\"{request.ContentType}\" names a character set other than UTF-8; send the JSON as UTF-8.", "UNSUPPORTED_CHARSET")]));
            return;
        }

        var (buffer, length) = await ReadAllAsync(request.Body, request.ContentLength, context.RequestAborted);
        if (JsonBodyCheck.Find(buffer.AsSpan(0, length), limit.Repairable) is { } error)
        {
            await ApiProblems.WriteAsync(context, ApiProblems.Invalid([error]));
            return;
        }
        // Publicly visible, so an endpoint that parses the whole body (BatchReader) takes these bytes without a copy.
        request.Body = new MemoryStream(buffer, 0, length, writable: false, publiclyVisible: true);
        request.Headers.ContentLength = length;
        await next();
    }

    private static bool HasBody(HttpContext context) =>
        context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? context.Request.ContentLength > 0;

    private static bool IsUtf8(string? contentType) =>
        contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media) || !media.Charset.HasValue || media.Charset.Length == 0
        || media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || media.Charset.Equals("utf8", StringComparison.OrdinalIgnoreCase)
        || media.Charset.Equals("\"utf-8\"", StringComparison.OrdinalIgnoreCase);

    /// <summary>A NUL in the path or a query value could never be stored or matched: refused like one in the body.</summary>
    private static ProblemDetails? ProblemOfTarget(HttpRequest request)
    {
        if (request.Path.Value?.Contains('\0') == true)
            return ApiProblems.Invalid([new FieldError("path", "must not contain the NUL character (%00).")]);
        foreach (var (name, values) in request.Query)
            if (name.Contains('\0') || values.Any(v => v?.Contains('\0') == true))
                return ApiProblems.Invalid([new FieldError(name.Replace("\0", "\\u0000"), "must not contain the NUL character (%00).")]);
        return null;
    }

    /// <summary>The whole (already capped) body in one array: the endpoint reads the same bytes, no second copy.</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadAllAsync(Stream body, long? declared, CancellationToken ct)
    {
        var buffer = new byte[declared is > 0 and < int.MaxValue ? (int)declared + 1 : ReadChunk];
        var length = 0;
        while (true)
        {
            if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
            var read = await body.ReadAsync(buffer.AsMemory(length), ct);
            if (read == 0) return (buffer, length);
            length += read;
        }
    }

    /// <summary>The 4xx a failed body read stands for, wherever the read happened; null for anything else.</summary>
    public static ProblemDetails? ProblemOf(Exception? ex, BodyLimit limit)
    {
        for (var e = ex; e is not null; e = e.InnerException)
            switch (e)
            {
                case BodyTooLargeException tooLarge:
                    return TooLarge(tooLarge.Limit, null);
                case BodyEncodingException encoding:
                    return ApiProblems.Create(StatusCodes.Status400BadRequest, "The body cannot be decoded",
                        [new FieldError("Content-Encoding", $"the body is not valid {encoding.Encoding} data ({encoding.InnerException?.Message.TrimEnd('.')}).", "BAD_ENCODING")]);
                case System.Text.Json.JsonException json:
                    // Client JSON read lazily by an endpoint (a section deserialized on demand): the client's mistake.
                    return ApiProblems.Invalid([new FieldError((json.Path ?? "").TrimStart('$').TrimStart('.'), json.Message.Split(" Path:")[0])]);
                case InvalidDataException invalid:
                    // A form body that does not parse (no multipart boundary, too many or too long keys).
                    return ApiProblems.Invalid([new FieldError("", $"the body cannot be read: {invalid.Message}")]);
                case BadHttpRequestException bad:
                    return bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                        ? TooLarge(limit, null)
                        : ApiProblems.Create(bad.StatusCode, "The request cannot be read", [new FieldError("", bad.Message)]);
            }
        return null;
    }

    private static ProblemDetails TooLarge(BodyLimit limit, long? bytes) =>
        ApiProblems.TooLarge("", (bytes is { } b ? $"the request is {b} bytes" : "the request body is larger than the limit (after decompression)")
            + $"; a request may be at most {limit.MaxBytes} bytes ({limit.Family}).");

    /// <summary>Turns a decompressor's complaint (not gzip, truncated, corrupt) into one error the middleware answers 400.</summary>
    private sealed class DecodingStream(Stream inner, string encoding) : ReadOnlyBodyStream
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            try { return await inner.ReadAsync(buffer, ct); }
            catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException) { throw new BodyEncodingException(encoding, ex); }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            try { return inner.Read(buffer, offset, count); }
            catch (Exception ex) when (ex is InvalidDataException or InvalidOperationException) { throw new BodyEncodingException(encoding, ex); }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) inner.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>A request body that refuses to yield more than its endpoint's limit: the read past it throws.</summary>
public sealed class CappedStream(Stream inner, BodyLimit limit) : ReadOnlyBodyStream
{
    private long _read;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.Length == 0) return await inner.ReadAsync(buffer, ct);
        // Ask for one byte more than allowed at most, so a body of exactly the limit still reads to its end.
        var room = (int)Math.Min(buffer.Length, limit.MaxBytes - _read + 1);
        var read = await inner.ReadAsync(buffer[..Math.Max(room, 1)], ct);
        return Count(read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        if (count == 0) return inner.Read(buffer, offset, count);
        var room = (int)Math.Min(count, limit.MaxBytes - _read + 1);
        return Count(inner.Read(buffer, offset, Math.Max(room, 1)));
    }

    private int Count(int read)
    {
        _read += read;
        if (_read > limit.MaxBytes) throw new BodyTooLargeException(limit);
        return read;
    }
}

/// <summary>A request body read front to back, once: what the wrappers above do not need of <see cref="Stream"/>.</summary>
public abstract class ReadOnlyBodyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
