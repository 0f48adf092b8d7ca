using System.Text.RegularExpressions;
using Marten;
using Marten.Services;
using Npgsql;

namespace EventProfiles.Projections.CalculatedAttributes;

/// <summary>
/// The async daemon's page fetch (Marten 9.62's <c>EventLoader</c>) joins every event of the page to its stream row only
/// to read the stream's type: <c>… from mt_events as d inner join mt_streams as s on d.stream_id = s.id where d.seq_id &gt; $1
/// and d.seq_id &lt;= $2 and d.type = ANY($3) … order by d.seq_id limit N</c>. For a page of ~1,000–3,000 events over
/// 100,000–600,000 streams PostgreSQL prices a hash join over a (parallel) sequential scan of ALL of mt_streams below
/// ~2,000 index probes, and takes 130–250 ms instead of 3–30 ms (docs/operations.md, "stop 29"), growing with the streams.
/// <see cref="Rewrite"/> reads the stream type with a correlated subquery instead, which can only be one primary-key probe
/// per returned row: the same rows (the foreign key from mt_events to mt_streams means every event has its stream row, and
/// the id is the key), the same columns in the same order. Statements of any other shape pass unchanged.
/// </summary>
public static class CalculationsFetch
{
    private const string StreamTypeColumn = ", s.type as stream_type from ";

    /// <summary>The fetch with the stream type read per returned row, or null when <paramref name="sql"/> is not Marten's plain fetch.</summary>
    public static string? Rewrite(string sql)
    {
        if (!sql.StartsWith("select d.", StringComparison.Ordinal)) return null;
        var column = sql.IndexOf(StreamTypeColumn, StringComparison.Ordinal);
        if (column < 0) return null;
        var from = column + StreamTypeColumn.Length;
        // "<schema>.mt_events as d inner join <schema>.mt_streams as s on d.stream_id = s.id where …", nothing else: a
        // conjoined-tenancy or archive-partition join has more conditions, and then the join stays.
        var events = sql.IndexOf(".mt_events as d inner join ", from, StringComparison.Ordinal);
        if (events < 0) return null;
        var schema = sql[from..events];
        var join = $"{schema}.mt_events as d inner join {schema}.mt_streams as s on d.stream_id = s.id where ";
        if (string.CompareOrdinal(sql, from, join, 0, join.Length) != 0) return null;
        var where = sql[(from + join.Length)..];
        // A filter on the stream row (a stream type filter: "s.type = $n") needs the join.
        if (Regex.IsMatch(where, @"\bs\.")) return null;
        return $"{sql[..column]}, (select s.type from {schema}.mt_streams as s where s.id = d.stream_id) as stream_type from {schema}.mt_events as d where {where}";
    }
}

/// <summary>
/// Marten's own store logger with one addition: the one hook Marten gives before a command runs
/// (<see cref="IMartenSessionLogger.OnBeforeExecute(NpgsqlCommand)"/>) reshapes the async daemon's page fetch
/// (<see cref="CalculationsFetch"/>). It wraps the logger the built store has (installed with <see cref="Install"/>)
/// rather than replacing it before the store is built: Marten only hands its logger factory to the daemon, the
/// projections and Npgsql when the store's logger is its default one. Sessions read the store's logger when they open,
/// so every session opened after <see cref="Install"/> goes through it. Marten keeps one command per shard's loader, so
/// the text is rewritten once per loader; every other command costs one ordinal prefix comparison.
/// </summary>
public sealed class FetchReshapingLogger(IMartenLogger inner) : IMartenLogger
{
    private long _fetchesReshaped;

    /// <summary>How many daemon fetch commands were reshaped (each loader's command once): 0 with definitions active means Marten's statement changed shape.</summary>
    public long FetchesReshaped => Interlocked.Read(ref _fetchesReshaped);

    /// <summary>Wraps the built store's logger; call before the daemon starts.</summary>
    public static FetchReshapingLogger Install(StoreOptions options)
    {
        var logger = new FetchReshapingLogger(options.Logger());
        options.Logger(logger);
        return logger;
    }

    public IMartenSessionLogger StartSession(IQuerySession session) => new Session(this, inner.StartSession(session));

    public void SchemaChange(string sql) => inner.SchemaChange(sql);

    private void Reshape(NpgsqlCommand command)
    {
        // Marten's fetch is the only command that starts "select d." and carries the stream type column.
        if (!command.CommandText.StartsWith("select d.", StringComparison.Ordinal)) return;
        if (CalculationsFetch.Rewrite(command.CommandText) is not { } reshaped) return;
        command.CommandText = reshaped;
        Interlocked.Increment(ref _fetchesReshaped);
    }

    private sealed class Session(FetchReshapingLogger owner, IMartenSessionLogger inner) : IMartenSessionLogger
    {
        public void OnBeforeExecute(NpgsqlCommand command)
        {
            owner.Reshape(command);
            inner.OnBeforeExecute(command);
        }

        public void OnBeforeExecute(NpgsqlBatch batch) => inner.OnBeforeExecute(batch);
        public void LogSuccess(NpgsqlCommand command) => inner.LogSuccess(command);
        public void LogFailure(NpgsqlCommand command, Exception ex) => inner.LogFailure(command, ex);
        public void LogSuccess(NpgsqlBatch batch) => inner.LogSuccess(batch);
        public void LogFailure(NpgsqlBatch batch, Exception ex) => inner.LogFailure(batch, ex);
        public void LogFailure(Exception ex, string message) => inner.LogFailure(ex, message);
        public void RecordSavedChanges(IDocumentSession session, IChangeSet commit) => inner.RecordSavedChanges(session, commit);
    }
}
