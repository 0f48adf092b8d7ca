using System.Text.Json;
using EventProfiles.Domain.CalculatedAttributes;
using EventProfiles.Domain.Ingestion;
using EventProfiles.Domain.Profiles;

namespace EventProfiles.Domain.Tests.CalculatedAttributes;

/// <summary>Builders for captured events, definitions and their computed values.</summary>
internal static class CA
{
    /// <summary>2024-05-01T00:00:00Z.</summary>
    public static readonly DateTimeOffset T0 = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);
    public const int Workspace = 1;
    public const int DefinitionId = 7;
    public const string Name = "my_ca";

    public static JsonElement Json(string json) => JsonSerializer.Deserialize<JsonElement>(json);

    /// <summary>A custom event; <paramref name="attributes"/> is the JSON object of its custom_attributes.</summary>
    public static EventCaptured Custom(
        string name, DateTimeOffset at, string attributes = "{}", string customEventType = "other", int workspace = Workspace, long? copiedFrom = null) =>
        new(Guid.NewGuid(), workspace, EventTypes.CustomEvent, at, null, name,
            Json($$"""{ "event_name": {{JsonSerializer.Serialize(name)}}, "custom_event_type": {{JsonSerializer.Serialize(customEventType)}}, "custom_attributes": {{attributes}} }"""),
            copiedFrom);

    /// <summary>A custom event named Play with one custom attribute <c>v</c> holding <paramref name="valueJson"/> (raw JSON).</summary>
    public static EventCaptured Play(DateTimeOffset at, string valueJson) => Custom("Play", at, $$"""{ "v": {{valueJson}} }""");

    /// <summary>A commerce event; <paramref name="products"/> is the JSON array of the product action's products.</summary>
    public static EventCaptured Commerce(
        DateTimeOffset at, string products, string action = "purchase", string attributes = "{}", long? copiedFrom = null) =>
        new(Guid.NewGuid(), Workspace, EventTypes.CommerceEvent, at, null, null,
            Json($$"""
                { "product_action": { "action": {{JsonSerializer.Serialize(action)}}, "transaction_id": "t-1", "total_amount": 99.5, "products": {{products}} },
                  "currency_code": "EUR", "custom_attributes": {{attributes}} }
                """),
            copiedFrom);

    public static EventCaptured ScreenView(string name, DateTimeOffset at) =>
        new(Guid.NewGuid(), Workspace, EventTypes.ScreenView, at, null, name, Json($$"""{ "screen_name": {{JsonSerializer.Serialize(name)}} }"""));

    public static TimePeriod Since(DateTimeOffset date) => new() { Type = TimePeriodTypes.Since, Date = date };
    public static TimePeriod Within(int n, string unit = TimePeriodTypes.Days) => new() { Type = TimePeriodTypes.Within, Within = n, WithinUnit = unit };

    /// <summary>A definition over the custom event Play (attribute <c>v</c>), since 2020 unless told otherwise.</summary>
    public static Definition OnPlay(string calculation, string? attribute = "v", TimePeriod? period = null, params Condition[] conditions) => new()
    {
        RecipeType = DataPointTypes.Event,
        DataPoint = new DataPoint { Type = DataPointTypes.Event, EventType = EventTypes.CustomEvent, EventName = "Play", AttributeName = attribute },
        Conditions = conditions,
        CalculationType = calculation,
        TimePeriod = period ?? Since(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero)),
    };

    /// <summary>A definition over purchases reading a product attribute.</summary>
    public static Definition OnPurchasedProducts(string calculation, string? attribute, bool useQuantity = false, TimePeriod? period = null, params Condition[] conditions) => new()
    {
        RecipeType = DataPointTypes.Event,
        DataPoint = new DataPoint
        {
            Type = DataPointTypes.Event, EventType = EventTypes.CommerceEvent, CustomEventType = "purchase", AttributeName = attribute,
            AttributeCategory = AttributeCategories.Product, UseProductQuantity = useQuantity,
        },
        Conditions = conditions,
        CalculationType = calculation,
        TimePeriod = period ?? Since(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero)),
    };

    public static Condition When(string type, string op, string attribute = "c", string? value = null, string[]? values = null, string? min = null, string? max = null) =>
        new() { Type = type, Operator = op, AttributeName = attribute, Value = value, Values = values, MinValue = min, MaxValue = max };

    public static ActiveDefinition Activate(Definition definition, Guid? activation = null) =>
        new(DefinitionId, Workspace, Name, activation ?? Guid.NewGuid(), definition.Normalized());

    /// <summary>Folds the events into a person's live state, all observed at <paramref name="now"/>.</summary>
    public static PersonCalculations Fold(ActiveDefinition definition, DateTimeOffset now, params EventCaptured[] events)
    {
        var person = PersonCalculations.For(4242);
        foreach (var e in events) person.Observe(definition, e, now);
        return person;
    }

    public static Calculation? StateOf(PersonCalculations person) => person.Definitions.GetValueOrDefault(DefinitionId);

    /// <summary>The value after folding the events, read at <paramref name="now"/>.</summary>
    public static CalculatedValue? ValueOf(ActiveDefinition definition, DateTimeOffset now, params EventCaptured[] events) =>
        CalculatedAttributeValues.ValueAt(definition, now, StateOf(Fold(definition, now, events)));

    /// <summary>The text value of a definition over the given events, read well after them (since-periods do not expire).</summary>
    public static string? Text(Definition definition, params EventCaptured[] events) =>
        ValueOf(Activate(definition), T0.AddYears(1), events)?.Text;

    public static IReadOnlyList<string>? List(Definition definition, params EventCaptured[] events) =>
        ValueOf(Activate(definition), T0.AddYears(1), events)?.List;
}
