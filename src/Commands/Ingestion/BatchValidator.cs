using System.Runtime.InteropServices;
using System.Text.Json;
using EventProfiles.Domain.Consent;
using EventProfiles.Domain.Identity;
using EventProfiles.Domain.Ingestion;
using FluentValidation;

namespace EventProfiles.Commands.Ingestion;

/// <summary>The Events API limits we enforce (events-api.md §4).</summary>
public static class BatchLimits
{
    public const int MaxRequestBytes = 256 * 1024;
    public const int MaxBatchBytes = 128 * 1024;
    public const int MaxBatchesPerRequest = 100;
    public const int MaxUserAttributes = 100;
    public const int MaxNameLength = 256;
    public const int MaxValueLength = 4096;
    public const int MaxListEntries = 1000;
    public const int MaxListEntryLength = 512;
    public const int MaxEventAttributes = 100;
    public const int MaxIdentityLength = 4096;
    public static readonly TimeSpan HistoricalMinimumAge = TimeSpan.FromHours(72);
    /// <summary>Latest timestamp DateTimeOffset can hold (year 9999), in ms.</summary>
    public const long MaxTimestampMs = 253_402_300_799_999;
}

/// <summary>
/// Shape rules of one batch. Field names in errors are the JSON names the client sent
/// (<c>events[0].data.timestamp_unixtime_ms</c>), see <see cref="WireNames"/>.
/// </summary>
public sealed class BatchValidator : AbstractValidator<Batch>
{
    private static readonly string[] Environments = ["production", "development", "unknown"];

    private static readonly HashSet<string> Platforms = new(StringComparer.Ordinal)
    {
        "iOS", "Android", "web", "tvOS", "roku", "out_of_band", "alexa", "smart_tv", "fire_tv", "xbox", "desktop",
    };

    private static readonly string[] AttStatuses = ["authorized", "denied", "not_determined", "restricted"];

    /// <summary>Key of the receive time in the root context data: present only for <c>/v2/bulkevents/historical</c>.</summary>
    public const string HistoricalAsOf = "historical_as_of";

    public BatchValidator()
    {
        WireNames.Use();

        RuleFor(b => b.Environment)
            .Must(e => e is null || Environments.Contains(e))
            .WithMessage(b => $"must be \"production\" or \"development\", not \"{b.Environment}\".");

        RuleFor(b => b.SourceRequestId).MaximumLength(256);
        RuleFor(b => b.MpDeviceId).MaximumLength(BatchLimits.MaxIdentityLength);

        RuleFor(b => b.UserIdentities).Custom(ValidateUserIdentities);
        RuleFor(b => b.UserAttributes).Custom(ValidateUserAttributes);
        RuleForEach(b => b.DeletedUserAttributes)
            .NotEmpty().WithMessage("must be a non-empty attribute name.")
            .MaximumLength(BatchLimits.MaxNameLength);

        RuleFor(b => b.DeviceInfo!.Platform)
            .Must(p => p is null || Platforms.Contains(p))
            .WithMessage(b => $"\"{b.DeviceInfo!.Platform}\" is not a platform; expected one of {string.Join(", ", Platforms)}.")
            .When(b => b.DeviceInfo is not null)
            .OverridePropertyName("device_info.platform");
        RuleFor(b => b.DeviceInfo!.AttAuthorizationStatus)
            .Must(s => s is null || AttStatuses.Contains(s))
            .WithMessage($"must be one of {string.Join(", ", AttStatuses)}.")
            .When(b => b.DeviceInfo is not null)
            .OverridePropertyName("device_info.att_authorization_status");
        RuleFor(b => b.DeviceInfo!.AttTimestampUnixtimeMs)
            .InclusiveBetween(0, BatchLimits.MaxTimestampMs)
            .When(b => b.DeviceInfo?.AttTimestampUnixtimeMs is not null)
            .OverridePropertyName("device_info.att_timestamp_unixtime_ms");

        RuleFor(b => b.ConsentState).SetValidator(new ConsentStateValidator()!).When(b => b.ConsentState is not null);

        RuleForEach(b => b.Events)
            .NotNull().WithMessage("must be an event object, not null.")
            .SetValidator(new EventValidator()!);

        // events-api.md §1: historical batches must carry events, each with a timestamp at least 72 h old. Conditions on
        // the rules rather than a When(…, () => …) block: a block caches its verdict in dictionaries of its own for
        // every batch validated, historical or not; a rule's condition allocates nothing.
        RuleFor(b => b.Events)
            .Must(e => e is { Count: > 0 })
            .WithMessage("a historical batch must contain at least one event.")
            .When(IsHistorical);
        RuleForEach(b => b.Events)
            .Must(e => e?.Data?.TimestampUnixtimeMs is not null)
            .WithMessage("historical events must carry data.timestamp_unixtime_ms.")
            .Must((_, e, ctx) => e?.Data?.TimestampUnixtimeMs is not { } ms ||
                                 ms <= ((DateTimeOffset)ctx.RootContextData[HistoricalAsOf] - BatchLimits.HistoricalMinimumAge).ToUnixTimeMilliseconds())
            .WithMessage("historical events must be at least 72 hours old; send newer data to /v2/events.")
            .When(IsHistorical);
    }

    private static bool IsHistorical(Batch _, ValidationContext<Batch> ctx) => ctx.RootContextData.ContainsKey(HistoricalAsOf);

    /// <summary>
    /// True only when no rule of this validator (nor of the event, data and consent validators) can refuse the batch
    /// (not historical). FluentValidation's fixed cost per event (a child context and a field path per rule, ~15 KB per
    /// batch of 5 events) buys nothing for a valid batch, which nearly all are; so requests check this first and run the
    /// validator only when it says no, which names the errors exactly as before. False when unsure: an event type with
    /// rules of its own always goes through the validator. Keep in step with the rules above (EventRulesTests checks).
    /// </summary>
    public static bool IsPlainlyValid(Batch b)
    {
        if (b.Environment is { } environment && !Environments.Contains(environment)) return false;
        if (b.SourceRequestId?.Length > 256 || b.MpDeviceId?.Length > BatchLimits.MaxIdentityLength) return false;
        if (b.UserIdentities is { } identities)
            foreach (var (key, value) in identities)
                if (IdentityTypes.FromUserIdentityKey(key) is null || value is { Text.Length: 0 or > BatchLimits.MaxIdentityLength }) return false;
        if (b.UserAttributes is { } attributes)
        {
            if (attributes.Count > BatchLimits.MaxUserAttributes) return false;
            foreach (var (name, value) in attributes)
                if (name.Length is 0 or > BatchLimits.MaxNameLength || AttributeValueProblem(value) is not null) return false;
        }
        if (b.DeletedUserAttributes is { } deleted)
            foreach (var name in deleted)
                if (string.IsNullOrWhiteSpace(name) || name.Length > BatchLimits.MaxNameLength) return false;
        if (b.DeviceInfo is { } device &&
            (device.Platform is { } platform && !Platforms.Contains(platform) ||
             device.AttAuthorizationStatus is { } status && !AttStatuses.Contains(status) ||
             device.AttTimestampUnixtimeMs is < 0 or > BatchLimits.MaxTimestampMs)) return false;
        if (b.ConsentState is { } consent && !ConsentStateValidator.IsPlainlyValid(consent)) return false;
        if (b.Events is { } events)
            foreach (var e in events)
                if (e is null || !EventValidator.IsPlainlyValid(e)) return false;
        return true;
    }

    private static void ValidateUserIdentities(Dictionary<string, IdentityValue?>? identities, ValidationContext<Batch> ctx)
    {
        foreach (var (key, value) in identities ?? [])
        {
            // The path is built only for a failure: valid batches are nearly all of them.
            string Path() => $"user_identities.{key}";
            if (IdentityTypes.FromUserIdentityKey(key) is null)
                ctx.AddFailure(Path(), "is not a user identity type; expected customer_id, email, other, other_id_2 … other_id_10, mobile_number, phone_number_2, phone_number_3, facebook, twitter, google, microsoft, yahoo, alias or facebook_custom_audience_id.");
            else if (value is { } v && v.Text.Length == 0)
                ctx.AddFailure(Path(), "must not be empty (send null or leave it out).");
            else if (value is { } w && w.Text.Length > BatchLimits.MaxIdentityLength)
                ctx.AddFailure(Path(), $"is longer than {BatchLimits.MaxIdentityLength} characters.");
        }
    }

    private static void ValidateUserAttributes(Dictionary<string, JsonElement>? attributes, ValidationContext<Batch> ctx)
    {
        if (attributes is null) return;
        if (attributes.Count > BatchLimits.MaxUserAttributes)
            ctx.AddFailure("user_attributes", $"has {attributes.Count} attributes; a batch may set at most {BatchLimits.MaxUserAttributes}.");
        foreach (var (name, value) in attributes)
        {
            string Path() => $"user_attributes.{name}";
            if (name.Length == 0) ctx.AddFailure(Path(), "attribute names must not be empty.");
            if (name.Length > BatchLimits.MaxNameLength)
                ctx.AddFailure(Path(), $"the name is {name.Length} characters long; at most {BatchLimits.MaxNameLength} are allowed.");
            if (AttributeValueProblem(value) is { } problem) ctx.AddFailure(Path(), problem);
        }
    }

    /// <summary>
    /// Whether a JSON string's value has more than <paramref name="max"/> characters. Each character takes at least one
    /// byte of its JSON text, so a short text answers without making the string; only a long one is decoded and counted.
    /// </summary>
    internal static bool LongerThan(JsonElement value, int max) =>
        JsonMarshal.GetRawUtf8Value(value).Length > max && value.GetString()!.Length > max;

    /// <summary>User attribute values: a string, number, boolean, null (a tag) or a list of strings.</summary>
    internal static string? AttributeValueProblem(JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String when LongerThan(value, BatchLimits.MaxValueLength):
                return $"the value is longer than {BatchLimits.MaxValueLength} characters.";
            case JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null:
                return null;
            case JsonValueKind.Array:
                var count = 0;
                foreach (var entry in value.EnumerateArray())
                {
                    count++;
                    if (entry.ValueKind != JsonValueKind.String) return "a list value may only contain strings.";
                    if (LongerThan(entry, BatchLimits.MaxListEntryLength))
                        return $"list entries may be at most {BatchLimits.MaxListEntryLength} characters long.";
                }
                return count > BatchLimits.MaxListEntries ? $"a list may hold at most {BatchLimits.MaxListEntries} entries." : null;
            default:
                return "must be a string, number, boolean, null or a list of strings; objects are not allowed.";
        }
    }
}

public sealed class EventValidator : AbstractValidator<EventEnvelope>
{
    private static readonly string[] TransitionTypes =
        ["application_initialized", "application_exit", "application_background", "application_foreground"];

    private static readonly string[] ProductActions =
    [
        "add_to_cart", "remove_from_cart", "checkout", "checkout_option", "click", "view_detail", "purchase", "refund",
        "add_to_wishlist", "remove_from_wish_list", "remove_from_wishlist", "unknown",
    ];

    public EventValidator()
    {
        WireNames.Use();

        RuleFor(e => e.EventType)
            .NotEmpty().WithMessage("Required event field \"event_type\" is missing or empty.")
            .Must(t => t is null || t.Length == 0 || EventTypes.All.Contains(t))
            .WithMessage(e => $"\"{e.EventType}\" is not an event type; expected one of {string.Join(", ", EventTypes.All.Order())}.");

        RuleFor(e => e.Data).SetValidator(new EventDataValidator()!).When(e => e.Data is not null);

        // The rules of one event type only, as a validator of their own per type, included for the events of that type:
        // every rule FluentValidation runs builds its field path (events[i].data.…) before it looks at its condition, so
        // seven conditioned rules cost seven paths per event of every other type. Included rules keep the event's path
        // and their order; a type with no rules of its own (custom_event, screen_view, …) runs none.
        Include(e => e.EventType is { } type ? TypeRules.GetValueOrDefault(type) : null);
    }

    /// <summary>See <see cref="BatchValidator.IsPlainlyValid"/>: the event's rules and its data's; false for a type with rules of its own.</summary>
    internal static bool IsPlainlyValid(EventEnvelope e)
    {
        if (string.IsNullOrWhiteSpace(e.EventType) || !EventTypes.All.Contains(e.EventType) || TypeRules.ContainsKey(e.EventType)) return false;
        if (e.Data is not { } d) return true;
        if (d.TimestampUnixtimeMs is < 0 or > BatchLimits.MaxTimestampMs || d.SessionStartUnixtimeMs is < 0 or > BatchLimits.MaxTimestampMs) return false;
        if (d.SourceMessageId?.Length > 256 || d.EventName?.Length > BatchLimits.MaxNameLength || d.ScreenName?.Length > BatchLimits.MaxNameLength) return false;
        if (d.CustomAttributes is not { } attributes) return true;
        if (attributes.Count > BatchLimits.MaxEventAttributes) return false;
        foreach (var (name, value) in attributes)
            if (name.Length > BatchLimits.MaxNameLength || value.ValueKind is JsonValueKind.Object or JsonValueKind.Array ||
                value.ValueKind == JsonValueKind.String && BatchValidator.LongerThan(value, BatchLimits.MaxValueLength)) return false;
        return true;
    }

    private static readonly Dictionary<string, IValidator<EventEnvelope>> TypeRules = new(StringComparer.Ordinal)
    {
        [EventTypes.UserAttributeChange] = new UserAttributeChangeRules(),
        [EventTypes.ApplicationStateTransition] = new ApplicationStateTransitionRules(),
        [EventTypes.PushRegistration] = new PushRegistrationRules(),
        [EventTypes.Breadcrumb] = new BreadcrumbRules(),
        [EventTypes.CommerceEvent] = new CommerceEventRules(),
    };

    // An event of these types may come without "data": the rules read it null-safe, so that is a 400 naming the
    // required field, not an exception (expression trees take no "?.").
    private sealed class UserAttributeChangeRules : AbstractValidator<EventEnvelope>
    {
        public UserAttributeChangeRules()
        {
            WireNames.Use();
            RuleFor(e => e.Data == null ? null : e.Data.UserAttributeName)
                .NotEmpty().WithMessage("is required for user_attribute_change events.")
                .MaximumLength(BatchLimits.MaxNameLength)
                .OverridePropertyName("data.user_attribute_name")
                .WithName("user_attribute_name"); // the length message's name, as the member expression gave it

            RuleFor(e => e.Data!.New!.Value)
                .Must(v => BatchValidator.AttributeValueProblem(v) is null)
                .WithMessage(e => BatchValidator.AttributeValueProblem(e.Data!.New!.Value)!)
                .When(e => e.Data?.New is not null)
                .OverridePropertyName("data.new");
        }
    }

    private sealed class ApplicationStateTransitionRules : AbstractValidator<EventEnvelope>
    {
        public ApplicationStateTransitionRules()
        {
            WireNames.Use();
            RuleFor(e => e.Data == null ? null : e.Data.ApplicationTransitionType)
                .Must(TransitionTypes.Contains)
                .WithMessage($"is required for application_state_transition events: one of {string.Join(", ", TransitionTypes)}.")
                .OverridePropertyName("data.application_transition_type");
        }
    }

    private sealed class PushRegistrationRules : AbstractValidator<EventEnvelope>
    {
        public PushRegistrationRules()
        {
            WireNames.Use();
            RuleFor(e => e.Data == null ? null : e.Data.RegistrationToken).NotEmpty().WithMessage("is required for push_registration events.")
                .OverridePropertyName("data.registration_token");
        }
    }

    private sealed class BreadcrumbRules : AbstractValidator<EventEnvelope>
    {
        public BreadcrumbRules()
        {
            WireNames.Use();
            RuleFor(e => e.Data == null ? null : e.Data.Label).NotEmpty().WithMessage("is required for breadcrumb events.")
                .OverridePropertyName("data.label");
        }
    }

    private sealed class CommerceEventRules : AbstractValidator<EventEnvelope>
    {
        public CommerceEventRules()
        {
            WireNames.Use();
            RuleFor(e => e.Data)
                .Must(d => IsObjectOrArray(d?.ProductAction) || IsObjectOrArray(d?.PromotionAction) || IsObjectOrArray(d?.ProductImpressions))
                .WithMessage("a commerce_event needs one of product_action, promotion_action or product_impressions.");
            RuleFor(e => e.Data!.ProductAction)
                .Must(a => a!.Value.TryGetProperty("action", out var action) && action.ValueKind == JsonValueKind.String &&
                           ProductActions.Contains(action.GetString()))
                .WithMessage($"is required: one of {string.Join(", ", ProductActions)}.")
                .When(e => e.Data?.ProductAction is { ValueKind: JsonValueKind.Object })
                .OverridePropertyName("data.product_action.action");
        }
    }

    private static bool IsObjectOrArray(JsonElement? e) => e is { ValueKind: JsonValueKind.Object or JsonValueKind.Array };
}

public sealed class EventDataValidator : AbstractValidator<EventData>
{
    public EventDataValidator()
    {
        WireNames.Use();

        RuleFor(d => d.TimestampUnixtimeMs).InclusiveBetween(0, BatchLimits.MaxTimestampMs).When(d => d.TimestampUnixtimeMs is not null);
        RuleFor(d => d.SessionStartUnixtimeMs).InclusiveBetween(0, BatchLimits.MaxTimestampMs).When(d => d.SessionStartUnixtimeMs is not null);
        RuleFor(d => d.SourceMessageId).MaximumLength(256);
        RuleFor(d => d.EventName).MaximumLength(BatchLimits.MaxNameLength);
        RuleFor(d => d.ScreenName).MaximumLength(BatchLimits.MaxNameLength);
        RuleFor(d => d.CustomAttributes).Custom((attributes, ctx) =>
        {
            if (attributes is null) return;
            if (attributes.Count > BatchLimits.MaxEventAttributes)
                ctx.AddFailure("custom_attributes", $"has {attributes.Count} attributes; an event may carry at most {BatchLimits.MaxEventAttributes}.");
            foreach (var (name, value) in attributes)
            {
                string Path() => $"custom_attributes.{name}"; // AddFailure prefixes the parent path (events[i].data)
                if (name.Length > BatchLimits.MaxNameLength)
                    ctx.AddFailure(Path(), $"the name is {name.Length} characters long; at most {BatchLimits.MaxNameLength} are allowed.");
                if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                    ctx.AddFailure(Path(), "event attribute values must be strings, numbers, booleans or null.");
                else if (value.ValueKind == JsonValueKind.String && BatchValidator.LongerThan(value, BatchLimits.MaxValueLength))
                    ctx.AddFailure(Path(), $"the value is longer than {BatchLimits.MaxValueLength} characters.");
            }
        });
    }
}

public sealed class ConsentStateValidator : AbstractValidator<ConsentState>
{
    public ConsentStateValidator()
    {
        WireNames.Use();

        RuleFor(c => c.Gdpr).Custom((purposes, ctx) =>
        {
            foreach (var (purpose, record) in purposes ?? [])
            {
                var path = $"gdpr.{purpose}"; // AddFailure prefixes the parent path (consent_state)
                if (purpose.Trim().Length == 0) ctx.AddFailure(path, "a GDPR purpose name must not be empty.");
                if (record is not null) ValidateRecord(record, path, ctx);
            }
        });
        RuleFor(c => c.Ccpa).Custom((purposes, ctx) =>
        {
            foreach (var (purpose, record) in purposes ?? [])
            {
                var path = $"ccpa.{purpose}";
                if (purpose != Regulations.CcpaPurpose)
                    ctx.AddFailure(path, $"CCPA has one purpose, \"{Regulations.CcpaPurpose}\".");
                else if (record is not null) ValidateRecord(record, path, ctx);
            }
        });
    }

    /// <summary>See <see cref="BatchValidator.IsPlainlyValid"/>: the rules above, without building a path.</summary>
    internal static bool IsPlainlyValid(ConsentState c)
    {
        foreach (var (purpose, record) in c.Gdpr ?? [])
            if (purpose.Trim().Length == 0 || record is not null && !RecordIsValid(record)) return false;
        foreach (var (purpose, record) in c.Ccpa ?? [])
            if (purpose != Regulations.CcpaPurpose || record is not null && !RecordIsValid(record)) return false;
        return true;
    }

    private static bool RecordIsValid(ConsentRecordInput record) =>
        record.Consented is not null && record.TimestampUnixtimeMs is not (< 0 or > BatchLimits.MaxTimestampMs);

    private static void ValidateRecord<T>(ConsentRecordInput record, string path, ValidationContext<T> ctx)
    {
        if (record.Consented is null) ctx.AddFailure($"{path}.consented", "is required (true or false).");
        if (record.TimestampUnixtimeMs is < 0 or > BatchLimits.MaxTimestampMs)
            ctx.AddFailure($"{path}.timestamp_unixtime_ms", "must be milliseconds since the Unix epoch.");
    }
}
