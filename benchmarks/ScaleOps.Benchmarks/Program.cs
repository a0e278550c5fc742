using BenchmarkDotNet.Running;

namespace ScaleOps.Benchmarks;

/// <summary>
/// Runs the BenchmarkDotNet suites: <c>dotnet run -c Release --project benchmarks/ScaleOps.Benchmarks -- --filter '*'</c>.
/// The servers come from <c>scripts/servers.sh start</c>, like the tests.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
