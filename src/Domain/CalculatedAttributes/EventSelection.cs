using System.Text.Json;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.CalculatedAttributes;

/// <summary>
/// One value a matching event contributes: its time, the attribute's value (none for counts and timestamps) and the
/// weight (the product quantity when <c>use_product_quantity</c> is on, else 1).
/// </summary>
public readonly record struct Observation(DateTimeOffset At, JsonElement? Value, decimal Quantity);

/// <summary>Which captured events a definition selects, and what each one contributes (§A1 data point, §A4, §C6).</summary>
public static class EventSelection
{
    public static bool Selects(DataPoint selector, EventCaptured e)
    {
        // Aliasing neither copies calculated attributes nor recalculates them (§C9): copied events do not count.
        if (e.CopiedFrom is not null || selector.EventType != e.EventType) return false;
        return e.EventType switch
        {
            EventTypes.CommerceEvent => selector.CustomEventType is not { } action || SameName(action, CommerceAction(e.Data)),
            EventTypes.CustomEvent => SameName(selector.EventName, e.EventName)
                && (selector.CustomEventType is null || SameName(selector.CustomEventType, Text(e.Data, "custom_event_type"))),
            _ => selector.EventName is null || SameName(selector.EventName, e.EventName),
        };
    }

    /// <summary>
    /// What a selected event contributes: one observation per event for event attributes, one per product (or promotion)
    /// for product (or promotion) attributes, in array order; conditions are checked against the same item.
    /// </summary>
    public static IEnumerable<Observation> Observe(Definition definition, EventCaptured e, PatternBudget? patterns = null)
    {
        var selector = definition.Selector!;
        if (!Selects(selector, e)) yield break;
        var calculation = definition.CalculationType!;
        var conditions = definition.Conditions ?? [];
        var items = selector.AttributeCategory switch
        {
            AttributeCategories.Product => Items(e.Data, "product_action", "products"),
            AttributeCategories.Promotion => Items(e.Data, "promotion_action", "promotions"),
            _ => [(JsonElement?)null],
        };

        if (!CalculationTypes.NeedsAttribute(calculation))
        {
            // Counts and timestamps count the event once when any of its items passes the conditions.
            if (items.Any(item => conditions.All(c => ConditionEvaluator.Holds(c, Lookup(e.Data, item, c.AttributeName), patterns))))
                yield return new Observation(e.Timestamp, null, 1);
            yield break;
        }

        foreach (var item in items)
        {
            if (!conditions.All(c => ConditionEvaluator.Holds(c, Lookup(e.Data, item, c.AttributeName), patterns))) continue;
            if (Lookup(e.Data, item, selector.AttributeName) is not { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } value) continue;
            var quantity = selector.UseProductQuantity == true && item is { } product ? Quantity(product) : 1m;
            yield return new Observation(e.Timestamp, value, quantity);
        }
    }

    /// <summary>
    /// An attribute by name: on the product or promotion first (its fields, then its custom attributes), then the
    /// event's custom attributes, then the fields of its product/promotion action, then the event's own fields.
    /// </summary>
    public static JsonElement? Lookup(JsonElement data, JsonElement? item, string? name)
    {
        if (name is null) return null;
        if (item is { ValueKind: JsonValueKind.Object } it && (Field(it, name) ?? Field(it, "custom_attributes", name) ?? Field(it, "attributes", name)) is { } onItem)
            return onItem;
        if (data.ValueKind != JsonValueKind.Object) return null;
        return Field(data, "custom_attributes", name)
            ?? Field(data, "product_action", name)
            ?? Field(data, "promotion_action", name)
            ?? Field(data, name);
    }

    private static JsonElement? Field(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind is not (JsonValueKind.Object or JsonValueKind.Array) ? v : null;

    private static JsonElement? Field(JsonElement obj, string container, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(container, out var c) ? Field(c, name) : null;

    private static IReadOnlyList<JsonElement?> Items(JsonElement data, string action, string array) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty(action, out var a) && a.ValueKind == JsonValueKind.Object
            && a.TryGetProperty(array, out var list) && list.ValueKind == JsonValueKind.Array
            ? list.EnumerateArray().Select(p => (JsonElement?)p).ToList()
            : [];

    private static decimal Quantity(JsonElement product) =>
        product.TryGetProperty("quantity", out var q) && AttributeValues.AsNumber(q) is { } n && n > 0 ? n : 1m;

    private static string? CommerceAction(JsonElement data) =>
        data.ValueKind != JsonValueKind.Object ? null
        : data.TryGetProperty("product_action", out var p) && p.ValueKind == JsonValueKind.Object ? Text(p, "action")
        : data.TryGetProperty("promotion_action", out var m) && m.ValueKind == JsonValueKind.Object ? Text(m, "action")
        : null;

    private static string? Text(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool SameName(string? wanted, string? actual) => string.Equals(wanted, actual, StringComparison.OrdinalIgnoreCase);
}
