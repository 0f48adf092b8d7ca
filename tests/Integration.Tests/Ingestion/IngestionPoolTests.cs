using EventProfiles.Commands.Api;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// The ingestion writers and resolver take their own pool (Databases.Ingestion): statements prepared once per
/// connection and kept when the connection goes back to the pool, which the other pools' DISCARD ALL would drop.
/// </summary>
[Collection(AppCollection.Name)]
public class IngestionPoolTests(AppFixture app)
{
    [Fact]
    public void the_host_s_ingestion_pool_prepares_statements_and_skips_the_reset_unless_the_operator_chose_otherwise()
    {
        var databases = app.Services.GetRequiredService<Databases>();
        databases.Ingestion.ShouldNotBeSameAs(databases.Primary);
        var settings = new NpgsqlConnectionStringBuilder(databases.Ingestion.ConnectionString);
        settings.MaxAutoPrepare.ShouldBeGreaterThan(0);
        settings.NoResetOnClose.ShouldBeTrue();

        var chosen = new NpgsqlConnectionStringBuilder(Databases.IngestionConnectionString("Host=db;Max Auto Prepare=0;No Reset On Close=false"));
        chosen.MaxAutoPrepare.ShouldBe(0);
        chosen.NoResetOnClose.ShouldBeFalse();
    }

    [Fact]
    public async Task a_statement_used_twice_stays_prepared_after_its_connection_went_back_to_the_pool()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(app.Db.ConnectionString) { MaxPoolSize = 1 }.ConnectionString;
        await using var databases = Databases.For(connectionString, "ingestion-pool-test");
        var marker = $"ingestion_pool_{Guid.NewGuid():N}";
        var sql = $"select mpid from {app.Schema}.ep_identity_index where identity_type = $1 /* {marker} */";
        for (var i = 0; i < 3; i++)
        {
            await using var connection = await databases.Ingestion.OpenConnectionAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = "customer_id" });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) { }
        }

        // One connection in the pool: this is the one the statement ran on, returned twice since.
        await using var check = await databases.Ingestion.OpenConnectionAsync();
        await using var prepared = new NpgsqlCommand("select count(*) from pg_prepared_statements where statement like '%' || $1 || '%' and statement not like '%pg_prepared_statements%'", check);
        prepared.Parameters.Add(new NpgsqlParameter<string> { TypedValue = marker });
        ((long)(await prepared.ExecuteScalarAsync())!).ShouldBe(1);
    }
}
