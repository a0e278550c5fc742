namespace ScaleOps.Partitioning.Internal;

/// <summary>The steps of an archive run; a fault hook can stop the run after any of them (crash tests).</summary>
internal enum ArchiveStep
{
    Exported,
    Uploaded,
    Verified,
    ManifestWritten,
    Detached,
    Removed,
}
