using System.Collections.Concurrent;
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
    private static readonly Lock Gate = new();
    private static bool _installed;

    // FluentValidation asks for a rule's names on every validation, not once per rule: reading the attribute by
    // reflection each time was ~7% of the Host's CPU per /v2/events request. Members are few and never change.
    private static readonly ConcurrentDictionary<MemberInfo, string?> JsonNames = new();

    private static string? JsonNameOf(MemberInfo member) =>
        JsonNames.GetOrAdd(member, static m => m.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name);

    public static void Use()
    {
        // Validators name their rules when constructed: a caller must not return before the resolvers are in place
        // (concurrent first requests built a validator with the CLR names while another thread was installing them).
        lock (Gate)
        {
            if (_installed) return;
            var fallback = ValidatorOptions.Global.PropertyNameResolver;
            ValidatorOptions.Global.PropertyNameResolver = (type, member, expression) =>
                (member is null ? null : JsonNameOf(member)) ?? fallback(type, member, expression);
            // Messages name the field themselves through the error's "field"; keep the text free of the name.
            ValidatorOptions.Global.DisplayNameResolver = (type, member, expression) =>
                member is null ? null : JsonNameOf(member) ?? member.Name;
            _installed = true;
        }
    }
}
