using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Internal;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Archive;

public class ArchiveBlobsTests(PostgresDatabase database) : IClassFixture<PostgresDatabase>
{
    [Fact]
    public async Task The_container_is_created_on_a_later_call_when_storage_was_down_on_the_first()
    {
        var azurite = await TcpServer.BlobAsync();
        var start = azurite.IndexOf("BlobEndpoint=", StringComparison.Ordinal) + "BlobEndpoint=".Length;
        var end = azurite.IndexOf(';', start);
        var endpoint = new Uri(end < 0 ? azurite[start..] : azurite[start..end]);

        // A loopback port with nothing listening yet: storage is down.
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var down = azurite.Replace($"BlobEndpoint={endpoint.GetLeftPart(UriPartial.Authority)}", $"BlobEndpoint=http://127.0.0.1:{port}", StringComparison.Ordinal);
        Assert.NotEqual(azurite, down);

        using var host = TestHost.Build(database.ConnectionString, o =>
        {
            o.Audit.Enabled = false;
            o.RunMaintenanceOnStart = false;
            o.BlobConnectionString = down;
            o.ArchiveContainer = "blobs-" + Guid.NewGuid().ToString("N");
        });
        var blobs = host.Services.GetRequiredService<ArchiveBlobs>();

        using (var first = new CancellationTokenSource(TimeSpan.FromSeconds(1))) // stops the SDK's retries early
        {
            using var content = new MemoryStream([1, 2, 3]);
            await Assert.ThrowsAnyAsync<Exception>(() => blobs.UploadAsync("first", content, first.Token));
        }

        // Storage comes back on the same address: a forwarder to Azurite.
        await using var storage = new FaultyTcpProxy(endpoint.Host, endpoint.Port, FaultyTcpProxy.ProxyMode.Forward, port);
        using (var content = new MemoryStream([1, 2, 3]))
        {
            await blobs.UploadAsync("second", content, CancellationToken.None).WaitAsync("the upload once storage is back");
        }

        var path = Path.GetTempFileName();
        try
        {
            Assert.True(await blobs.DownloadAsync("second", path, CancellationToken.None));
            Assert.Equal(new byte[] { 1, 2, 3 }, await File.ReadAllBytesAsync(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
