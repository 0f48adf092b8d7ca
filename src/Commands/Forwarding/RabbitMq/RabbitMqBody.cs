using System.Text.Json.Serialization;
using EventProfiles.Commands.Api;
using EventProfiles.Commands.Security;
using EventProfiles.Domain.Forwarding;

namespace EventProfiles.Commands.Forwarding.RabbitMq;

/// <summary>A RabbitMQ output's settings as the admin API takes them.</summary>
public sealed record RabbitMqBody(
    [property: JsonPropertyName("uri")] string? Uri,
    [property: JsonPropertyName("exchange")] string? Exchange,
    [property: JsonPropertyName("routing_key")] string? RoutingKey)
{
    /// <summary>The shape of the settings: each problem with its field.</summary>
    public static IEnumerable<FieldError> Problems(RabbitMqBody? body)
    {
        if (body is null)
        {
            yield return new FieldError("rabbitmq", "is required for a rabbitmq output.");
            yield break;
        }
        if (ParseUri(body.Uri, out var problem) is null) yield return new FieldError("rabbitmq.uri", problem!);
        if (string.IsNullOrWhiteSpace(body.Exchange))
            yield return new FieldError("rabbitmq.exchange", "is required (an existing exchange: EventProfiles does not declare it).");
        else if (body.Exchange.Length > 255 || body.Exchange.StartsWith("amq.gen", StringComparison.Ordinal))
            yield return new FieldError("rabbitmq.exchange", "must be at most 255 characters and not a server-named exchange.");
        if (RabbitMqRoutingKeys.TemplateProblem(body.RoutingKey) is { } routing) yield return new FieldError("rabbitmq.routing_key", routing);
    }

    /// <summary>An <c>amqp://</c> or <c>amqps://</c> URI with a host, or null with the reason.</summary>
    public static Uri? ParseUri(string? text, out string? problem)
    {
        problem = null;
        if (text is null || !System.Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("amqp" or "amqps") || uri.Host.Length == 0)
        {
            problem = "must be an absolute amqp or amqps URI (amqp://user:password@host:5672/vhost).";
            return null;
        }
        return uri;
    }

    /// <summary>
    /// Where the broker is, under the one outbound policy (<see cref="OutboundAddresses"/>): the same answer as for a
    /// webhook on that host and port. Checked again at connect time (<see cref="RabbitMqPublisher"/>).
    /// </summary>
    public static async Task<string?> AddressProblemAsync(string uri, OutboundAddresses outbound, CancellationToken ct)
    {
        var parsed = ParseUri(uri, out var problem);
        if (parsed is null) return problem;
        var port = parsed.IsDefaultPort || parsed.Port < 0 ? (parsed.Scheme == "amqps" ? 5671 : 5672) : parsed.Port;
        // The host as written goes into an http URL only to reuse the policy's host checks; nothing is called.
        return await outbound.ProblemAsync($"http://{parsed.Host}:{port}/", ct);
    }

    public RabbitMqSettings ToSettings(RabbitMqSettings? before)
    {
        // No password sent, or the mask the API shows (a client sending back what it read), keeps the one set before.
        var uri = before is not null ? RabbitMqRoutingKeys.WithoutMaskedPassword(Uri!) : Uri!;
        return new(
            before is not null && !HasPassword(uri) && before.HasPassword() && SameAccount(uri, before.Uri) ? WithPasswordOf(uri, before.Uri) : uri,
            Exchange!, string.IsNullOrEmpty(RoutingKey) ? RabbitMqRoutingKeys.DefaultTemplate : RoutingKey);
    }

    private static bool HasPassword(string uri) => RabbitMqRoutingKeys.HasPassword(uri);

    private static bool SameAccount(string uri, string before) =>
        System.Uri.TryCreate(uri, UriKind.Absolute, out var a) && System.Uri.TryCreate(before, UriKind.Absolute, out var b)
        && a.Host == b.Host && a.Port == b.Port && a.UserInfo == b.UserInfo[..Math.Max(0, b.UserInfo.IndexOf(':'))];

    private static string WithPasswordOf(string uri, string before)
    {
        var old = new System.Uri(before);
        var password = old.UserInfo[(old.UserInfo.IndexOf(':') + 1)..];
        var builder = new UriBuilder(new System.Uri(uri)) { Password = System.Uri.UnescapeDataString(password) };
        return builder.Uri.ToString();
    }

    /// <summary>As the admin API shows it: the URI without its password.</summary>
    public static object View(RabbitMqSettings settings) => new
    {
        uri = settings.MaskedUri(), has_password = settings.HasPassword(), exchange = settings.Exchange, routing_key = settings.RoutingKey,
    };
}
