using System.Collections.Generic;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Npgsql;

namespace ScaleOps.Jobs.Tests.Support;

/// <summary>
/// Runs one of the package's statements (named <c>@parameters</c>) as a prepared statement's generic plan, the plan the
/// worker's prepared statements run on after five executions, under <c>EXPLAIN (ANALYZE, FORMAT JSON)</c>.
/// </summary>
internal static class GenericPlan
{
    /// <summary>
    /// Adds the statement to <paramref name="batch"/> (after whatever the batch already holds), runs the batch and
    /// returns the plan's JSON. The caller owns the batch's transaction, and so whether the statement's writes stay.
    /// </summary>
    /// <param name="batch">The batch to run in; its earlier commands run first.</param>
    /// <param name="sql">The statement with <c>@name</c> parameters.</param>
    /// <param name="arguments">Per parameter name, its type and the SQL expression of its value.</param>
    public static async Task<string> ExplainAsync(NpgsqlBatch batch, string sql, IReadOnlyDictionary<string, (string Type, string Sql)> arguments)
    {
        var names = new List<string>();
        var numbered = Regex.Replace(sql, @"@([a-z_]+)", m =>
        {
            var name = m.Groups[1].Value;
            if (!names.Contains(name))
            {
                names.Add(name);
            }

            return "$" + (names.IndexOf(name) + 1);
        });
        var types = string.Join(", ", names.Select(n => arguments[n].Type));
        var values = string.Join(", ", names.Select(n => arguments[n].Sql));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SET LOCAL plan_cache_mode = force_generic_plan"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"PREPARE generic_plan ({types}) AS {numbered}"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE generic_plan ({values})"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand("DEALLOCATE generic_plan"));

        var plan = string.Empty;
        await using var reader = await batch.ExecuteReaderAsync();
        do
        {
            if (reader.FieldCount == 1 && reader.GetName(0) == "QUERY PLAN" && await reader.ReadAsync())
            {
                plan = reader.GetString(0);
            }
        }
        while (await reader.NextResultAsync());

        return plan;
    }

    /// <summary>A literal argument: the value quoted and cast to its type.</summary>
    public static (string Type, string Sql) Literal(string type, string value) => (type, $"'{value.Replace("'", "''", System.StringComparison.Ordinal)}'::{type}");
}
