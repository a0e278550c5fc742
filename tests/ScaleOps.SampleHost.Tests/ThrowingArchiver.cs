using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Archive;

namespace ScaleOps.SampleHost.Tests;

/// <summary>
/// An archiver whose archives and restores fail with <see cref="InvalidOperationException"/> and a message that names
/// something internal (<paramref name="secret"/>), the way any dependency can fail: the host must answer a 500 that
/// quotes none of it and log the error. With <paramref name="withManifests"/>, every partition has a manifest (so a
/// restore gets as far as the archiver); without, none has.
/// </summary>
internal sealed class ThrowingArchiver(string secret, string message, bool withManifests) : IPartitionArchiver
{
    public string Secret { get; } = secret;

    public string Message { get; } = message;

    public Task<ArchiveManifest> ArchiveAsync(string schema, string table, string partition, CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException(Message);

    public Task<ArchiveManifest?> GetManifestAsync(string schema, string table, string partition, CancellationToken cancellationToken = default) =>
        Task.FromResult(withManifests
            ? new ArchiveManifest
            {
                Schema = schema, Table = table, Partition = partition, From = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc),
                To = new DateTime(2000, 2, 1, 0, 0, 0, DateTimeKind.Utc), Rows = 1, RowChecksum = "00", FileSha256 = "00", Blob = Secret,
                Columns = [], ArchivedAt = DateTimeOffset.UnixEpoch,
            }
            : null);

    public Task<long> RestoreAsync(string schema, string table, string partition, bool allowOtherDatabase = false,
        CancellationToken cancellationToken = default) =>
        throw new InvalidOperationException(Message);
}
