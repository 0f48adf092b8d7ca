using EventProfiles.Commands.Api;
using EventProfiles.Integration.Tests.Fixtures;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace EventProfiles.Integration.Tests.Ingestion;

/// <summary>
/// The ingestion writers and resolver take their own pool (Databases.Ingestion): statements prepared once per
/// connection and kept when the connection goes back to the pool, which the other pools' DISCARD ALL would drop. The
/// resolver's look-ups keep generic plans with index paths only (LookupPlans), in a pool of its own, so those settings
/// never reach a writer.
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

    [Fact]
    public async Task the_resolver_plans_index_look_ups_once_on_its_own_pool_and_a_writer_s_connection_never_inherits_it()
    {
        var host = app.Services.GetRequiredService<Databases>();
        host.Resolver.ShouldNotBeSameAs(host.Ingestion);
        new NpgsqlConnectionStringBuilder(host.Resolver.ConnectionString).NoResetOnClose.ShouldBeTrue();
        // An operator's own startup options are kept beside ours.
        new NpgsqlConnectionStringBuilder(Databases.ResolverConnectionString("Host=db;Options=-c work_mem=8MB")).Options
            .ShouldBe("-c work_mem=8MB -c plan_cache_mode=force_generic_plan -c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off");

        // One connection per pool: the writer's slot is the one any connection handed back would reuse.
        var connectionString = new NpgsqlConnectionStringBuilder(app.Db.ConnectionString) { MaxPoolSize = 1 }.ConnectionString;
        await using var databases = Databases.For(connectionString, "resolver-pool-test");
        for (var i = 0; i < 2; i++)
        {
            // The resolver's connection, replaced (disposed, back to a pool) as after a failed look-up.
            await using (var resolver = await databases.Resolver.OpenConnectionAsync())
                (await PlanCacheMode(resolver)).ShouldBe("force_generic_plan");
            await using var writer = await databases.Ingestion.OpenConnectionAsync();
            (await PlanCacheMode(writer)).ShouldBe("auto");
        }
    }

    [Fact]
    public async Task a_look_up_planned_on_a_small_table_keeps_its_index_plan_on_the_resolver_and_in_the_writer_s_load()
    {
        // A small, analysed table: where the plan cached for a look-up is made on a fresh install.
        var table = $"{app.Schema}.lookup_plans_{Guid.NewGuid():N}";
        await using (var setup = app.Db.CreateCommand(
            $"create table {table} (identity_type text, identity_value text, mpid bigint, primary key (identity_type, identity_value)); " +
            $"insert into {table} select 'email', 'p' || i, i from generate_series(1, 200) i; analyze {table}"))
            await setup.ExecuteNonQueryAsync();
        var lookUp = $"select t.mpid from {table} t join unnest($1::text[], $2::text[]) q(t, v) on t.identity_type = q.t and t.identity_value = q.v";
        try
        {
            // Planned once with the default settings, a scan of the whole table is what it keeps: the trap.
            var host = app.Services.GetRequiredService<Databases>();
            await using (var plain = await host.Primary.OpenConnectionAsync())
            {
                await using var _ = await plain.BeginTransactionAsync();
                (await GenericPlanAsync(plain, lookUp, ["set local plan_cache_mode = force_generic_plan"])).ShouldContain("Seq Scan");
            }

            await using (var resolver = await host.Resolver.OpenConnectionAsync())
                (await GenericPlanAsync(resolver, lookUp, [])).ShouldSatisfyAllConditions(
                    plan => plan.ShouldContain("Index"), plan => plan.ShouldNotContain("Seq Scan"), plan => plan.ShouldNotContain("Hash"));

            await using var writer = await host.Ingestion.OpenConnectionAsync();
            await using var transaction = await writer.BeginTransactionAsync();
            (await GenericPlanAsync(writer, lookUp, LookupPlans.Set)).ShouldSatisfyAllConditions(
                plan => plan.ShouldContain("Index"), plan => plan.ShouldNotContain("Seq Scan"), plan => plan.ShouldNotContain("Hash"));
            foreach (var reset in LookupPlans.Reset) await ExecuteAsync(writer, reset);
            (await PlanCacheMode(writer)).ShouldBe("auto"); // the group's writes after the look-ups: the session's settings
        }
        finally
        {
            await using var drop = app.Db.CreateCommand($"drop table if exists {table}");
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>The plan PostgreSQL keeps for <paramref name="sql"/> when it makes one plan for every execution.</summary>
    private static async Task<string> GenericPlanAsync(NpgsqlConnection connection, string sql, IEnumerable<string> settings)
    {
        var name = $"q_{Guid.NewGuid():N}";
        foreach (var set in settings) await ExecuteAsync(connection, set);
        await ExecuteAsync(connection, $"prepare {name}(text[], text[]) as {sql}");
        var lines = new List<string>();
        await using (var explain = new NpgsqlCommand($"explain execute {name}('{{email}}', '{{p7}}')", connection))
        await using (var reader = await explain.ExecuteReaderAsync())
            while (await reader.ReadAsync()) lines.Add(reader.GetString(0));
        await ExecuteAsync(connection, $"deallocate {name}");
        return string.Join('\n', lines);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string> PlanCacheMode(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("select current_setting('plan_cache_mode')", connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }
}
