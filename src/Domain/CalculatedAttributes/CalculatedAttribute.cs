namespace EventProfiles.Domain.CalculatedAttributes;

public enum CalculatedAttributeStatus
{
    /// <summary>Never activated: not computed.</summary>
    Draft,
    /// <summary>Active; the replay over retained events is still running (values may be partial).</summary>
    Calculating,
    /// <summary>Active and initialised: values are complete and kept current.</summary>
    Ready,
    /// <summary>Was active, now deactivated: not computed, not shown.</summary>
    Inactive,
}

/// <summary>
/// A calculated attribute of one workspace (§A1): the draft being edited, the active definition being computed, and the
/// state of its initialisation. Names are unique per workspace and frozen once activated.
/// </summary>
public sealed class CalculatedAttribute
{
    public int Id { get; set; }
    public int WorkspaceId { get; set; }
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public Definition? DraftDefinition { get; set; }
    public Definition? ActiveDefinition { get; set; }
    public CalculatedAttributeStatus Status { get; set; }
    /// <summary>Changes on every activation; state built for another activation is ignored.</summary>
    public Guid? Activation { get; set; }
    /// <summary>Event store position at activation: events up to here are initialised by replay, later ones live.</summary>
    public long LiveAfterSequence { get; set; }
    public long EventsToInitialise { get; set; }
    public long EventsInitialised { get; set; }
    public DateTimeOffset? InitialisedOn { get; set; }
    public string CreatedBy { get; set; } = "";
    public DateTimeOffset CreatedOn { get; set; }
    public string LastModifiedBy { get; set; } = "";
    public DateTimeOffset LastModifiedOn { get; set; }
    public string? ActivatedBy { get; set; }
    public DateTimeOffset? ActivatedOn { get; set; }

    public bool WasActivated => ActivatedOn is not null;
    public bool IsComputed => Status is CalculatedAttributeStatus.Calculating or CalculatedAttributeStatus.Ready;

    public ActiveDefinition? Computed() =>
        IsComputed && ActiveDefinition is { } definition && Activation is { } activation
            ? new ActiveDefinition(Id, WorkspaceId, Name, activation, definition, LiveAfterSequence)
            : null;

    public void Activate(string by, DateTimeOffset at, long liveAfterSequence)
    {
        ActiveDefinition = DraftDefinition!.Normalized();
        Activation = Guid.NewGuid();
        LiveAfterSequence = liveAfterSequence;
        Status = CalculatedAttributeStatus.Calculating;
        EventsToInitialise = 0;
        EventsInitialised = 0;
        InitialisedOn = null;
        ActivatedBy = by;
        ActivatedOn = at;
        Touch(by, at);
    }

    public void Deactivate(string by, DateTimeOffset at)
    {
        Status = CalculatedAttributeStatus.Inactive;
        Activation = null;
        Touch(by, at);
    }

    public void Touch(string by, DateTimeOffset at)
    {
        LastModifiedBy = by;
        LastModifiedOn = at;
    }
}
