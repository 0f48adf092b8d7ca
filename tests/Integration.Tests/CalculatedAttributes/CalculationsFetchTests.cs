using EventProfiles.Projections.CalculatedAttributes;

namespace EventProfiles.Integration.Tests.CalculatedAttributes;

/// <summary>
/// The daemon's page fetch reads the stream type per returned row instead of joining every stream row (the join could
/// become a hash join over all of mt_streams: docs/operations.md, "stop 29"). That the daemon still folds the right
/// events with the reshaped statement is <see cref="IdleCalculationsShardTests"/>' and the other calculation tests' job;
/// these pin the shapes rewritten and left alone.
/// </summary>
public class CalculationsFetchTests
{
    // Marten 9.62's EventLoader with our shard's filters (event types, not archived), as pg_stat_statements showed it.
    private const string MartenFetch =
        "select d.data, d.type, d.mt_dotnet_type, d.bdata, d.seq_id, d.id, d.stream_id, d.version, d.timestamp, d.tenant_id, d.is_archived, " +
        "s.type as stream_type from eventprofiles.mt_events as d inner join eventprofiles.mt_streams as s on d.stream_id = s.id " +
        "where d.seq_id > $1 and d.seq_id <= $2 and d.type = ANY($3) and d.is_archived = false order by d.seq_id limit 2000";

    [Fact]
    public void the_fetch_reads_the_stream_type_per_row_with_the_same_columns_and_filters()
    {
        CalculationsFetch.Rewrite(MartenFetch).ShouldBe(
            "select d.data, d.type, d.mt_dotnet_type, d.bdata, d.seq_id, d.id, d.stream_id, d.version, d.timestamp, d.tenant_id, d.is_archived, " +
            "(select s.type from eventprofiles.mt_streams as s where s.id = d.stream_id) as stream_type from eventprofiles.mt_events as d " +
            "where d.seq_id > $1 and d.seq_id <= $2 and d.type = ANY($3) and d.is_archived = false order by d.seq_id limit 2000");
    }

    [Fact]
    public void a_reshaped_fetch_is_not_reshaped_again()
    {
        CalculationsFetch.Rewrite(CalculationsFetch.Rewrite(MartenFetch)!).ShouldBeNull();
    }

    [Theory]
    // A filter on the stream row (a projection filtered by stream type).
    [InlineData(MartenFetch + " and s.type = $4")]
    // Conjoined tenancy and archived-stream partitions add conditions to the join.
    [InlineData("select d.seq_id, s.type as stream_type from x.mt_events as d inner join x.mt_streams as s on d.stream_id = s.id and d.tenant_id = s.tenant_id where d.seq_id > $1")]
    [InlineData("select d.seq_id, s.type as stream_type from x.mt_events as d inner join x.mt_streams as s on d.stream_id = s.id and s.is_archived = FALSE where d.seq_id > $1")]
    // Other statements.
    [InlineData("select d.seq_id from x.mt_events as d where d.seq_id > $1 order by d.seq_id limit 1")]
    [InlineData("select d.data, s.type as stream_type from x.mt_events as d inner join x.mt_streams as s on d.stream_id = s.id where (s.type = $1)")]
    public void other_shapes_are_left_alone(string sql)
    {
        CalculationsFetch.Rewrite(sql).ShouldBeNull();
    }
}
