using System.Text;
using System.Text.Json.Nodes;

namespace EventProfiles.Domain.Forwarding;

/// <summary>
/// A RabbitMQ output: the broker (an <c>amqp://</c> or <c>amqps://</c> URI, whose password is a secret), the exchange the
/// messages are published to (it must exist: we never declare the customer's topology), and the routing key template
/// (<see cref="RabbitMqRoutingKeys"/>). Messages are the webhook JSON, with the delivery id as AMQP message id.
/// </summary>
// Functions rather than properties for the masked URI: the record is stored as a document, and only its settings should be.
public sealed record RabbitMqSettings(string Uri, string Exchange, string RoutingKey)
{
    /// <summary>The URI with its password replaced, for the admin API and for any log line.</summary>
    public string MaskedUri() => RabbitMqRoutingKeys.Mask(Uri);

    public bool HasPassword() => RabbitMqRoutingKeys.HasPassword(Uri);
}

/// <summary>Routing keys from a template, and what a RabbitMQ URI may show.</summary>
public static class RabbitMqRoutingKeys
{
    public const string DefaultTemplate = "{workspace}.{input}.{event_type}";
    public static readonly string[] Placeholders = ["{workspace}", "{input}", "{event_type}"];

    /// <summary>What <c>{event_type}</c> is for a batch whose events are of several types.</summary>
    public const string Mixed = "mixed";
    public const string AudienceChange = "audience_membership_change";
    public const string ErasureNotice = "erasure_notice";
    public const string IdentityChange = IdentityChangeNotice.Type;

    /// <summary>Why this template cannot be used (a sentence after the field name), or null.</summary>
    public static string? TemplateProblem(string? template)
    {
        if (string.IsNullOrEmpty(template)) return null; // the default
        var rest = template;
        foreach (var placeholder in Placeholders) rest = rest.Replace(placeholder, "");
        if (rest.Contains('{') || rest.Contains('}')) return $"may only use the placeholders {string.Join(", ", Placeholders)}.";
        if (Encoding.UTF8.GetByteCount(template) > 200) return "must be at most 200 bytes (a routing key is at most 255 once filled in).";
        return null;
    }

    /// <summary>
    /// The routing key of one message: <c>{workspace}</c> is the workspace id given (the batch's input's; for audience
    /// changes, erasure and identity-change notices the output's), <c>all</c> when there is none (an org-wide output), <c>{input}</c> the input's name (<c>audience</c> for audience changes, <c>erasure</c> for erasure notices, <c>identity</c> for identity-change notices),
    /// <c>{event_type}</c> the type of the batch's events (<see cref="Mixed"/> when they differ, <see cref="AudienceChange"/>,
    /// <see cref="ErasureNotice"/>, <see cref="IdentityChange"/>). Dots in values are kept, so a binding may match on them; a key longer than AMQP's
    /// 255 bytes is cut.
    /// </summary>
    public static string Key(string? template, int? workspaceId, string input, string payload)
    {
        template = string.IsNullOrEmpty(template) ? DefaultTemplate : template;
        var (inputName, eventType) = input switch
        {
            _ when input.StartsWith(Privacy.ErasureNotice.InputPrefix, StringComparison.Ordinal) => ("erasure", ErasureNotice),
            _ when input.StartsWith("audience:", StringComparison.Ordinal) => ("audience", AudienceChange),
            _ when IdentityChangeNotice.IsNotice(input) => ("identity", IdentityChange),
            // The payload is parsed only when the key needs its event types.
            _ => (input, template.Contains("{event_type}", StringComparison.Ordinal) ? EventTypeOf(payload) : ""),
        };
        var key = template
            .Replace("{workspace}", workspaceId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "all")
            .Replace("{input}", inputName)
            .Replace("{event_type}", eventType);
        while (Encoding.UTF8.GetByteCount(key) > 255) key = key[..^1];
        return key;
    }

    /// <summary>The one event type of a batch's events, <see cref="Mixed"/> when they differ (none: <c>none</c>).</summary>
    public static string EventTypeOf(string payload)
    {
        var types = (JsonNode.Parse(payload)?["events"] as JsonArray ?? [])
            .Select(e => e?["event_type"]?.GetValue<string>() ?? "").Distinct().ToList();
        return types.Count switch { 0 => "none", 1 => types[0], _ => Mixed };
    }

    public static bool HasPassword(string uri) => System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.UserInfo.Contains(':');

    /// <summary>The URI as sent, or without its password when that is the <c>***</c> <see cref="Mask"/> shows.</summary>
    public static string WithoutMaskedPassword(string uri)
    {
        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.UserInfo.EndsWith(":***", StringComparison.Ordinal)
            && !parsed.UserInfo.EndsWith(":%2A%2A%2A", StringComparison.OrdinalIgnoreCase)) return uri;
        return new UriBuilder(parsed) { Password = "" }.Uri.ToString();
    }

    /// <summary>The URI with any password shown as <c>***</c> (the user name stays: it says which account is used).</summary>
    public static string Mask(string uri)
    {
        if (!System.Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || !parsed.UserInfo.Contains(':')) return uri;
        var user = parsed.UserInfo[..parsed.UserInfo.IndexOf(':')];
        var builder = new UriBuilder(parsed) { UserName = user, Password = "***" };
        return builder.Uri.ToString().Replace("%2A%2A%2A", "***");
    }
}
