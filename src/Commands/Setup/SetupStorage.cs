using System.Xml.Linq;
using EventProfiles.Domain.Setup;
using Marten;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventProfiles.Commands.Setup;

/// <summary>The configuration's documents, and the Data Protection key ring every node shares (our own table).</summary>
public static class SetupStorage
{
    public const string KeyRingTable = "ep_dataprotection_keys";

    /// <summary>Data Protection's application name: the same on every node, so one node decrypts what another encrypted.</summary>
    public const string ApplicationName = "EventProfiles";

    /// <summary>The purpose input and API client secrets are encrypted for (a key of their own, derived from the key ring).</summary>
    public const string SecretsPurpose = "EventProfiles.Setup.Secrets.v1";

    public static StoreOptions AddSetupDocuments(this StoreOptions opts)
    {
        // Every change stores the org with its version raised: two changes at once conflict instead of one losing the other's.
        opts.Schema.For<SetupOrg>().DocumentAlias("setup_org").UseOptimisticConcurrency(true);
        opts.Schema.For<SetupWorkspace>().DocumentAlias("setup_workspace");
        opts.Schema.For<SetupInput>().DocumentAlias("setup_input").UniqueIndex(i => i.Key);
        opts.Schema.For<SetupApiClient>().DocumentAlias("setup_api_client");
        opts.Schema.For<SetupAdminUser>().DocumentAlias("setup_admin_user");
        opts.Schema.For<SetupChange>().DocumentAlias("setup_change").Index(c => c.Version);
        return opts;
    }

    /// <summary>
    /// Data Protection for the Host and the start-up seeding alike: the key ring in the database (every node reads the same
    /// keys), or in <paramref name="keysFolder"/> when one is configured (docs/security.md, "Secrets at rest").
    /// </summary>
    public static IDataProtectionBuilder UseSetupKeyRing(this IDataProtectionBuilder builder, NpgsqlDataSource db, string schema, string? keysFolder)
    {
        builder.SetApplicationName(ApplicationName);
        if (keysFolder is { Length: > 0 }) builder.PersistKeysToFileSystem(new DirectoryInfo(keysFolder));
        else builder.Services.Configure<KeyManagementOptions>(o => o.XmlRepository = new DatabaseKeyRing(db, schema));
        return builder;
    }

    public static string KeyRingDdl(string schema) =>
        $"create schema if not exists {schema}; " +
        $"create table if not exists {schema}.{KeyRingTable} (friendly_name text primary key, xml text not null, stored_at timestamptz not null default now())";
}

/// <summary>Data Protection's key ring as rows of <see cref="SetupStorage.KeyRingTable"/> (Data Protection calls it synchronously).</summary>
public sealed class DatabaseKeyRing(NpgsqlDataSource db, string schema) : IXmlRepository
{
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var command = db.CreateCommand($"select xml from {schema}.{SetupStorage.KeyRingTable} order by stored_at");
        using var reader = command.ExecuteReader();
        var elements = new List<XElement>();
        while (reader.Read()) elements.Add(XElement.Parse(reader.GetString(0)));
        return elements;
    }

    public void StoreElement(XElement element, string friendlyName)
    {
        using var command = db.CreateCommand($"insert into {schema}.{SetupStorage.KeyRingTable} (friendly_name, xml) values ($1, $2) on conflict (friendly_name) do nothing");
        command.Parameters.Add(new NpgsqlParameter { Value = friendlyName });
        command.Parameters.Add(new NpgsqlParameter { Value = element.ToString(SaveOptions.DisableFormatting) });
        command.ExecuteNonQuery();
    }
}
