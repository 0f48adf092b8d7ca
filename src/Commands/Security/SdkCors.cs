namespace EventProfiles.Commands.Security;

/// <summary>The CORS policy of every browser-facing endpoint (IDSync, SDK events, alias, SDK config); origins are configured.</summary>
public static class SdkCors
{
    public const string Policy = "sdk";
}
