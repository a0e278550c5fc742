using System;
using System.Collections.Generic;
using System.IO;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// Where the test servers are: environment variables first (<c>SCALEOPS_PG</c>, <c>SCALEOPS_REDIS</c>,
/// <c>SCALEOPS_BLOB</c>), then the <c>servers.env</c> file that <c>scripts/servers.sh start</c> writes.
/// </summary>
public static class TestServers
{
    /// <summary>The command that starts every test server.</summary>
    public const string StartCommand = "scripts/servers.sh start";

    private static readonly Lazy<IReadOnlyDictionary<string, string>> File = new(ReadEnvFile);

    /// <summary>The value of a setting, or null.</summary>
    /// <param name="key">For example <c>SCALEOPS_PG</c>.</param>
    /// <returns>The value.</returns>
    public static string? Get(string key)
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(key);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            return fromEnvironment;
        }

        return File.Value.TryGetValue(key, out var value) ? value : null;
    }

    /// <summary>The value of a setting; throws with the fixing command when it is missing.</summary>
    /// <param name="key">For example <c>SCALEOPS_PG</c>.</param>
    /// <param name="server">A human name, for the message.</param>
    /// <returns>The value.</returns>
    public static string Require(string key, string server) =>
        Get(key) ?? throw new ServerMissingException(
            $"{server} is not configured for the tests: neither the environment variable {key} nor {EnvFileDescription()} names it. "
            + $"Start the test servers with `{StartCommand}` (from the repository root), then run the tests again.");

    private static string EnvFileDescription() => FindEnvFile() ?? ".servers/servers.env (not found above " + AppContext.BaseDirectory + ")";

    private static string? FindEnvFile()
    {
        var explicitDir = Environment.GetEnvironmentVariable("SCALEOPS_SERVERS_DIR");
        if (!string.IsNullOrWhiteSpace(explicitDir))
        {
            var path = Path.Combine(explicitDir, "servers.env");
            return System.IO.File.Exists(path) ? path : null;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, ".servers", "servers.env");
            if (System.IO.File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    private static IReadOnlyDictionary<string, string> ReadEnvFile()
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var path = FindEnvFile();
        if (path is null)
        {
            return values;
        }

        foreach (var line in System.IO.File.ReadAllLines(path))
        {
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                values[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            }
        }

        return values;
    }
}
