using System.Reflection;
using System.Text.Json.Serialization;
using FluentValidation;

namespace EventProfiles.Commands.Ingestion;

/// <summary>
/// Makes FluentValidation name fields by their JSON names (<c>events[0].event_type</c>, not <c>Events[0].EventType</c>),
/// so an error points at what the client actually sent.
/// </summary>
public static class WireNames
{
    private static int _installed;

    public static void Use()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1) return;
        var fallback = ValidatorOptions.Global.PropertyNameResolver;
        ValidatorOptions.Global.PropertyNameResolver = (type, member, expression) =>
            member?.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? fallback(type, member, expression);
        // Messages name the field themselves through the error's "field"; keep the text free of the name.
        ValidatorOptions.Global.DisplayNameResolver = (type, member, expression) =>
            member?.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name ?? member?.Name;
    }
}
