using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using Npgsql;
using ScaleOps.Benchmarks.Rls;

namespace ScaleOps.RlsBench;

/// <summary>
/// CPU time actually used, which a busy machine's scheduling does not inflate the way it inflates wall time: this
/// process's (getrusage, every thread) and the PostgreSQL backends of one role (<c>/proc/PID/schedstat</c>, ns on CPU;
/// the server runs on this machine). Each variant connects as its own role, so its backends are its alone.
/// </summary>
internal static partial class Cpu
{
    public static long ClientNs()
    {
        if (GetRUsage(0, out var usage) != 0)
        {
            throw new InvalidOperationException("getrusage failed");
        }

        return ((usage.UserSeconds + usage.SystemSeconds) * 1_000_000 + usage.UserMicroseconds + usage.SystemMicroseconds) * 1000;
    }

    public static async Task<Dictionary<int, long>> BackendsAsync(NpgsqlConnection admin, string role)
    {
        var pids = new List<int>();
        await using (var command = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE usename = $1 AND datname = $2", admin))
        {
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = role });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = RlsBenchmarkData.Database });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                pids.Add(reader.GetInt32(0));
            }
        }

        var result = new Dictionary<int, long>();
        foreach (var pid in pids)
        {
            try
            {
                var text = await File.ReadAllTextAsync($"/proc/{pid}/schedstat");
                result[pid] = long.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The backend exited between the query and the read.
            }
        }

        return result;
    }

    /// <summary>CPU the backends used between two snapshots; a backend that appeared in between counts from zero.</summary>
    public static long Delta(Dictionary<int, long> before, Dictionary<int, long> after)
    {
        long total = 0;
        foreach (var (pid, ns) in after)
        {
            total += ns - before.GetValueOrDefault(pid);
        }

        return total;
    }

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRUsage(int who, out RUsage usage);

    [StructLayout(LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NVcsw, NIvCsw;
    }
}
