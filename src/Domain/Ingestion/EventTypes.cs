namespace EventProfiles.Domain.Ingestion;

/// <summary>The <c>event_type</c> values of the Events API (events-api.md §7.1).</summary>
public static class EventTypes
{
    public const string CustomEvent = "custom_event";
    public const string ScreenView = "screen_view";
    public const string CommerceEvent = "commerce_event";
    public const string SessionStart = "session_start";
    public const string SessionEnd = "session_end";
    public const string ApplicationStateTransition = "application_state_transition";
    public const string OptOut = "opt_out";
    public const string PushRegistration = "push_registration";
    public const string PushMessage = "push_message";
    public const string CrashReport = "crash_report";
    public const string Breadcrumb = "breadcrumb";
    public const string NetworkPerformance = "network_performance";
    public const string Uninstall = "uninstall";
    public const string UserAttributeChange = "user_attribute_change";
    public const string UserIdentityChange = "user_identity_change";
    public const string FirstRun = "first_run";
    public const string Profile = "profile";
    public const string PreAttribution = "pre_attribution";
    public const string PushReaction = "push_reaction";
    public const string Unknown = "unknown";
    public const string ValidationResult = "validation_result";

    /// <summary>Every type the spec's sources list for inbound batches.</summary>
    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        CustomEvent, ScreenView, CommerceEvent, SessionStart, SessionEnd, ApplicationStateTransition, OptOut,
        PushRegistration, PushMessage, CrashReport, Breadcrumb, NetworkPerformance, Uninstall, UserAttributeChange,
        UserIdentityChange, FirstRun, Profile, PreAttribution, PushReaction, Unknown, ValidationResult,
    };
}
