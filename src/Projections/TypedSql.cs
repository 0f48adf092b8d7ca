using Marten;
using Marten.Internal;
using Marten.Internal.Operations;
using Marten.Storage;
using NpgsqlTypes;
using OperationRole = Weasel.Core.OperationRole;
using ICommandBuilder = Weasel.Postgresql.ICommandBuilder;
using Weasel.Storage;

namespace EventProfiles.Projections;

/// <summary>
/// One SQL statement with <c>?</c> placeholders, queued in a Marten session like <c>QueueSqlCommand</c> (it travels in
/// the session's SaveChanges batch and transaction), but with typed parameters: each value goes in as an
/// <c>NpgsqlParameter&lt;T&gt;</c> with its <see cref="NpgsqlDbType"/> given. <c>QueueSqlCommand</c> boxes every value and
/// asks Weasel's type lookup for its type, which copies a dictionary per parameter; on the ingestion writer's group
/// append that was ~2 % of the Host's allocations. The text is split once, when the statement is made.
/// </summary>
public sealed class TypedSql(string sql)
{
    private readonly string[] _parts = sql.Split('?');

    /// <summary>A value and its PostgreSQL type (arrays: <c>NpgsqlDbType.Array | element</c>; lists work as arrays).</summary>
    public abstract class Value
    {
        internal abstract void AppendTo(ICommandBuilder builder);
    }

    private sealed class Value<T>(T value, NpgsqlDbType type) : Value
    {
        internal override void AppendTo(ICommandBuilder builder) => builder.AppendParameter(value, type);
    }

    public static Value Of<T>(T value, NpgsqlDbType type) => new Value<T>(value, type);

    public void Queue(IDocumentOperations session, params Value[] values)
    {
        if (values.Length != _parts.Length - 1)
            throw new ArgumentException($"{_parts.Length - 1} values expected, got {values.Length}", nameof(values));
        session.QueueOperation(new Operation(_parts, values));
    }

    private sealed class Operation(string[] parts, Value[] values) : Marten.Internal.Operations.IStorageOperation, NoDataReturnedCall
    {
        // As Marten's own QueueSqlCommand operation.
        public Type DocumentType => typeof(StorageFeatures);

        public void ConfigureCommand(ICommandBuilder builder, IStorageSession session)
        {
            builder.Append(parts[0]);
            for (var i = 0; i < values.Length; i++)
            {
                values[i].AppendTo(builder);
                builder.Append(parts[i + 1]);
            }
        }

        public Task PostprocessAsync(System.Data.Common.DbDataReader reader, IList<Exception> exceptions, CancellationToken token) => Task.CompletedTask;

        public OperationRole Role() => OperationRole.Other;
    }
}
