using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Npgsql;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.Internal.RateLimiting;
using ScaleOps.Resilience.Tests.Quotas;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.CircuitBreakers;

/// <summary>Retries of real transient failures: a Redis server that comes back, a PostgreSQL backend that was terminated.</summary>
public class RetryServerTests(QuotaDatabase database) : IClassFixture<QuotaDatabase>
{
    private static ServiceProvider Build(string pipeline, RetrySettings retry) => TestHost.Build(o =>
    {
        // A high minimum throughput: these tests are about the retry, not about the breaker opening.
        o.CircuitBreakers[pipeline].MinimumThroughput = 1000;
        o.CircuitBreakers[pipeline].Retry = retry;
    });

    [Fact]
    public async Task An_http_pipeline_retries_a_client_timeout_and_a_returned_503()
    {
        await using var sp = Build(CircuitBreakerNames.Http, new RetrySettings
        {
            MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(10), UseJitter = false,
        });
        var pipeline = sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline(CircuitBreakerNames.Http, idempotent: true);
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0); // accepts, never answers
        silent.Start();
        using var client = new System.Net.Http.HttpClient { Timeout = TimeSpan.FromMilliseconds(100) };
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}/";

        var attempts = 0;
        using var response = await pipeline.ExecuteAsync(async ct => Interlocked.Increment(ref attempts) switch
        {
            1 => await client.GetAsync(url, ct), // HttpClient.Timeout: TaskCanceledException, not the caller's cancellation
            2 => new System.Net.Http.HttpResponseMessage(System.Net.HttpStatusCode.ServiceUnavailable), // returned, not thrown
            _ => new System.Net.Http.HttpResponseMessage(System.Net.HttpStatusCode.OK),
        }, CancellationToken.None);

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, attempts);
    }

    [Fact]
    public async Task A_redis_call_made_while_the_server_is_down_succeeds_once_it_is_back_within_the_retry_window()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var connection = await ConnectionMultiplexer.ConnectAsync(RedisConnection.Configure(redis.Endpoint));
        var db = connection.GetDatabase();
        await db.StringSetAsync("retry:probe", "before");
        await using var sp = Build(CircuitBreakerNames.Redis, new RetrySettings
        {
            MaxRetryAttempts = 30, BaseDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1),
        });
        using var retries = new MetricCollector<long>(sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), "ScaleOps",
            "scaleops.resilience.retry.attempts");
        var pipeline = sp.GetRequiredService<CircuitBreakerRegistry>().GetPipeline(CircuitBreakerNames.Redis, idempotent: true);
        await redis.StopAsync();

        var attempts = 0;
        Exception? firstFailure = null;
        Task? restart = null;
        var written = await pipeline.ExecuteAsync(async _ =>
        {
            var attempt = Interlocked.Increment(ref attempts);
            try
            {
                return await db.StringSetAsync("retry:probe", "after"); // idempotent: SET of a fixed value
            }
            catch (Exception ex) when (attempt == 1)
            {
                firstFailure = ex;
                restart = redis.RestartAsync(); // the server comes back while the pipeline waits to retry
                throw;
            }
        }).AsTask().WaitAsync("the retried SET");

        await restart!.WaitAsync("the restart");
        Assert.True(written);
        Assert.True(attempts >= 2, $"the SET succeeded on attempt {attempts}; the first must have failed");
        Assert.True(TransientFailures.IsTransient(firstFailure!), $"the first failure ({firstFailure!.GetType().Name}) is transient");
        Assert.Equal("after", (string?)await db.StringGetAsync("retry:probe")); // written to the restarted (empty) server
        Assert.Equal(attempts - 1, retries.GetMeasurementSnapshot().Where(m => Equals(m.Tags["pipeline"], "redis")).Sum(m => m.Value));
    }

    [Fact]
    public async Task A_command_on_a_terminated_postgres_backend_is_retried_on_a_new_connection_when_idempotent()
    {
        await using var pooled = NpgsqlDataSource.Create(database.ConnectionString + ";Maximum Pool Size=1");
        await using var sp = Build(CircuitBreakerNames.Postgres, new RetrySettings { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(10) });
        var registry = sp.GetRequiredService<CircuitBreakerRegistry>();

        // Idempotent: the read runs again on a fresh connection.
        await TerminatePooledBackendAsync(pooled);
        var attempts = 0;
        Exception? firstFailure = null;
        var answer = await registry.GetPipeline(CircuitBreakerNames.Postgres, idempotent: true).ExecuteAsync(async ct =>
        {
            var attempt = Interlocked.Increment(ref attempts);
            try
            {
                return await SelectAsync(pooled, ct);
            }
            catch (Exception ex) when (attempt == 1)
            {
                firstFailure = ex;
                throw;
            }
        });

        Assert.Equal(42, answer);
        Assert.Equal(2, attempts);
        Assert.True(TransientFailures.IsTransient(firstFailure!), $"terminated backend: {firstFailure}");

        // Not declared idempotent: the same failure surfaces after one attempt.
        await TerminatePooledBackendAsync(pooled);
        attempts = 0;
        var error = await Assert.ThrowsAnyAsync<NpgsqlException>(async () => await registry.GetPipeline(CircuitBreakerNames.Postgres).ExecuteAsync(async ct =>
        {
            Interlocked.Increment(ref attempts);
            return await SelectAsync(pooled, ct);
        }));
        Assert.Equal(1, attempts);
        Assert.True(TransientFailures.IsTransient(error));
    }

    private static async Task<int> SelectAsync(NpgsqlDataSource source, CancellationToken cancellationToken)
    {
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT 42", connection);
        return (int)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Leaves the pool's only (idle) connection pointing at a backend that pg_terminate_backend has ended.</summary>
    private async Task TerminatePooledBackendAsync(NpgsqlDataSource pooled)
    {
        int pid;
        await using (var connection = await pooled.OpenConnectionAsync())
        await using (var command = new NpgsqlCommand("SELECT pg_backend_pid()", connection))
        {
            pid = (int)(await command.ExecuteScalarAsync())!;
        }

        await using var admin = new NpgsqlConnection(database.ConnectionString + ";Pooling=false");
        await admin.OpenAsync();
        await using (var kill = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", admin))
        {
            kill.Parameters.AddWithValue("pid", pid);
            Assert.True((bool)(await kill.ExecuteScalarAsync())!);
        }

        await TestSignal.UntilAsync(async () =>
        {
            await using var gone = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE pid = @pid", admin);
            gone.Parameters.AddWithValue("pid", pid);
            return (long)(await gone.ExecuteScalarAsync())! == 0;
        }, "the terminated backend to exit");
    }
}
