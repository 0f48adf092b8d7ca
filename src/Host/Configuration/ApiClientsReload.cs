using EventProfiles.Domain.Workspaces;
using Microsoft.Extensions.Primitives;

namespace EventProfiles.Host.Configuration;

public static class ApiClientsReload
{
    /// <summary>
    /// When the configuration is reloaded (appsettings.json edited, or a provider that reloads), the Profile API clients
    /// are read again: a removed client's tokens are refused from its next request on, changed scopes apply at once.
    /// A reloaded list that is invalid is logged and ignored (the clients stay as they were).
    /// </summary>
    public static void ReloadApiClientsOnChange(this WebApplication app)
    {
        var directory = app.Services.GetRequiredService<WorkspaceDirectory>();
        ChangeToken.OnChange(app.Configuration.GetReloadToken, () =>
        {
            var settings = app.Configuration.GetSection(EventProfilesSettings.Section).Get<EventProfilesSettings>() ?? new EventProfilesSettings();
            try { directory.ReplaceClients(settings.BuildClients(directory.Workspaces)); }
            catch (InvalidOperationException invalid)
            {
                app.Logger.LogError("The reloaded EventProfiles:ProfileApiClients are invalid, the clients stay as they were: {Reason}", invalid.Message);
            }
        });
    }
}
