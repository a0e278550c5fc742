using System;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using Polly.CircuitBreaker;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.TestInfrastructure;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Tests.CircuitBreakers;

/// <summary>The defaults are checked against failures produced by the real servers, not hand-made exceptions.</summary>
public class TransientFailuresTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    private async Task<Exception> PostgresFailure(string sql)
    {
        await using var command = database.DataSource.CreateCommand(sql);
        return await Assert.ThrowsAnyAsync<NpgsqlException>(() => command.ExecuteNonQueryAsync());
    }

    [Theory]
    [InlineData("40001")] // serialization failure
    [InlineData("40P01")] // deadlock
    [InlineData("57P01")] // admin shutdown
    [InlineData("53300")] // too many connections
    public async Task Postgres_errors_that_say_retry_later_are_transient(string sqlState)
    {
        var ex = await PostgresFailure($"DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '{sqlState}'; END $$");
        Assert.True(TransientFailures.IsTransient(ex), $"{sqlState} should be transient");
    }

    [Theory]
    [InlineData("CREATE TEMP TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1), (1)")] // 23505 unique violation
    [InlineData("SELEC 1")] // 42601 syntax error
    [InlineData("SELECT 1 / 0")] // 22012 division by zero
    [InlineData("SELECT * FROM no_such_table")] // 42P01
    public async Task Postgres_errors_that_say_the_request_is_wrong_are_never_transient(string sql)
    {
        var ex = await PostgresFailure(sql);
        Assert.False(TransientFailures.IsTransient(ex), $"{((PostgresException)ex).SqlState} should not be transient");
    }

    [Fact]
    public async Task An_unreachable_postgres_server_is_transient()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={port};Timeout=2;Pooling=false");
        var ex = await Assert.ThrowsAnyAsync<NpgsqlException>(() => connection.OpenAsync());
        Assert.True(TransientFailures.IsTransient(ex));
    }

    [Fact]
    public async Task Redis_connection_failures_are_transient_and_command_errors_are_not()
    {
        var endpoint = await TcpServer.RedisAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(endpoint);
        var db = redis.GetDatabase();
        var key = $"transient-tests:{Guid.NewGuid():N}";
        await db.StringSetAsync(key, "text", TimeSpan.FromMinutes(1));
        var wrongType = await Assert.ThrowsAsync<RedisServerException>(() => db.ListLeftPushAsync(key, "x"));
        Assert.False(TransientFailures.IsTransient(wrongType));

        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        await using var down = await ConnectionMultiplexer.ConnectAsync(
            $"127.0.0.1:{port},abortConnect=false,connectTimeout=500,asyncTimeout=500,connectRetry=0");
        var unreachable = await Assert.ThrowsAnyAsync<RedisException>(() => down.GetDatabase().StringGetAsync("k"));
        Assert.True(TransientFailures.IsTransient(unreachable), unreachable.GetType().Name);
    }

    [Fact]
    public void Cancellation_an_open_breaker_and_client_http_errors_never_count()
    {
        Assert.False(TransientFailures.IsTransient(new OperationCanceledException(new CancellationToken(true))));
        Assert.False(TransientFailures.IsTransient(new BrokenCircuitException()));
        Assert.False(TransientFailures.IsTransient(new HttpRequestException("bad", null, HttpStatusCode.BadRequest)));
        Assert.True(TransientFailures.IsTransient(new HttpRequestException("down", null, HttpStatusCode.ServiceUnavailable)));
        Assert.True(TransientFailures.IsTransient(new HttpRequestException("refused")));
    }

    [Fact]
    public void A_null_response_is_refused_by_name()
    {
        var error = Assert.Throws<ArgumentNullException>(() => TransientFailures.IsTransient((HttpResponseMessage)null!));
        Assert.Equal("response", error.ParamName);
    }

    [Fact]
    public async Task An_http_client_timeout_is_transient_but_a_cancellation_by_the_caller_is_not()
    {
        // A real HttpClient against a server that accepts the connection and never answers.
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        using var client = new HttpClient { Timeout = TimeSpan.FromMilliseconds(200) };
        var url = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}/";
        var timeout = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetAsync(url));
        Assert.True(TransientFailures.IsTransient(timeout), "HttpClient.Timeout (its inner TimeoutException)");
        Assert.True(TransientFailures.IsTransient(timeout, CancellationToken.None), "not requested by the caller's token");

        using var caller = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        using var patient = new HttpClient { Timeout = TimeSpan.FromMinutes(1) };
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => patient.GetAsync(url, caller.Token));
        Assert.False(TransientFailures.IsTransient(cancelled));
        Assert.False(TransientFailures.IsTransient(cancelled, caller.Token), "requested by the caller's token");
    }

    [Theory]
    [InlineData(HttpStatusCode.InternalServerError, true)]
    [InlineData(HttpStatusCode.ServiceUnavailable, true)]
    [InlineData(HttpStatusCode.RequestTimeout, true)]
    [InlineData(HttpStatusCode.TooManyRequests, true)]
    [InlineData(HttpStatusCode.OK, false)]
    [InlineData(HttpStatusCode.NotFound, false)]
    [InlineData(HttpStatusCode.BadRequest, false)]
    public void Returned_http_responses_count_by_status(HttpStatusCode status, bool transient)
    {
        using var response = new HttpResponseMessage(status);
        Assert.Equal(transient, TransientFailures.IsTransient(response));
    }

    [Fact]
    public async Task A_redis_readonly_error_after_a_failover_is_transient()
    {
        // A replica answers writes with READONLY (a client still talking to a demoted primary during a failover).
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await admin.GetDatabase().ExecuteAsync("REPLICAOF", "127.0.0.1", "1"); // a primary that does not exist: read-only
        var readOnly = await Assert.ThrowsAsync<RedisServerException>(() => admin.GetDatabase().ExecuteAsync("SET", "k", "v"));
        Assert.StartsWith("READONLY", readOnly.Message, StringComparison.Ordinal);
        Assert.True(TransientFailures.IsTransient(readOnly));
    }

    [Fact]
    public async Task A_redis_out_of_memory_reply_is_transient()
    {
        // maxmemory reached with the default noeviction policy: every write of every key is refused with OOM.
        await using var redis = await PrivateRedisServer.StartAsync();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true");
        await admin.GetServer(redis.Endpoint).ConfigSetAsync("maxmemory", "1");
        var oom = await Assert.ThrowsAsync<RedisServerException>(() => admin.GetDatabase().StringSetAsync("k", "v"));
        Assert.StartsWith("OOM", oom.Message, StringComparison.Ordinal);
        Assert.True(TransientFailures.IsTransient(oom));
    }

    [Fact]
    public async Task A_redis_script_error_is_not_transient()
    {
        var endpoint = await TcpServer.RedisAsync();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(endpoint);
        var failed = await Assert.ThrowsAsync<RedisServerException>(() => redis.GetDatabase().ScriptEvaluateAsync("return redis.error_reply('broken')"));
        Assert.False(TransientFailures.IsTransient(failed), failed.Message);
    }
}
