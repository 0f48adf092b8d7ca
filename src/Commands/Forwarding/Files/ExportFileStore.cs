using System.Security.Cryptography;
using System.Text;

namespace EventProfiles.Commands.Forwarding.Files;

/// <summary>
/// Where a files output's Parquet files and manifest go: a local folder now; S3-compatible storage later implements the
/// same five steps (a local scratch file, publish it under its final name at once, whole small texts replaced at once
/// for the manifest, delete, clean scratch). Readers only ever see published files.
/// </summary>
public interface IExportFileStore
{
    /// <summary>A new local scratch file for a Parquet file being written (not visible to readers).</summary>
    string CreateTemp();

    /// <summary>Makes a finished scratch file visible under <paramref name="path"/> (relative, '/'-separated) in one step.</summary>
    Task PublishAsync(string temp, string path, CancellationToken ct);

    Task<string?> ReadTextAsync(string path, CancellationToken ct);

    /// <summary>Replaces a text file in one step (temp + rename): a reader sees the old or the new, never half.</summary>
    Task WriteTextAtomicAsync(string path, string text, CancellationToken ct);

    Task DeleteAsync(string path, CancellationToken ct);

    /// <summary>Deletes scratch files a crashed writer left (called by the one writer of the output, under its lock).</summary>
    int CleanTemps();

    /// <summary>Opens a published file for reading (erasure rewrites).</summary>
    Stream OpenRead(string path);
}

/// <summary>
/// A folder on this server's disk. Scratch files live in <c>_tmp/</c> of the output's folder, on the same file system,
/// so publishing is a rename (atomic on POSIX file systems). Every call resolves the path inside the folder and refuses
/// anything that would leave it.
/// </summary>
public sealed class LocalFolderStore(string folder) : IExportFileStore
{
    public const string TempFolder = "_tmp";
    private readonly string _folder = Path.GetFullPath(folder);

    private string Full(string path)
    {
        var full = Path.GetFullPath(Path.Combine(_folder, path));
        if (!full.StartsWith(_folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new DeliveryRejectedException($"the path {path} leaves the output's folder.");
        return full;
    }

    public string CreateTemp()
    {
        var temps = Full(TempFolder);
        Directory.CreateDirectory(temps);
        return Path.Combine(temps, Guid.NewGuid().ToString("N") + ".tmp");
    }

    public Task PublishAsync(string temp, string path, CancellationToken ct)
    {
        var target = Full(path);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Move(temp, target, overwrite: false); // a published name is never reused: an existing file is a bug, not something to overwrite
        return Task.CompletedTask;
    }

    public async Task<string?> ReadTextAsync(string path, CancellationToken ct)
    {
        var full = Full(path);
        return File.Exists(full) ? await File.ReadAllTextAsync(full, ct) : null;
    }

    public async Task WriteTextAtomicAsync(string path, string text, CancellationToken ct)
    {
        var temp = CreateTemp();
        await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(text), ct);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, Full(path), overwrite: true);
    }

    public Task DeleteAsync(string path, CancellationToken ct)
    {
        File.Delete(Full(path));
        return Task.CompletedTask;
    }

    public int CleanTemps()
    {
        var temps = Full(TempFolder);
        if (!Directory.Exists(temps)) return 0;
        var files = Directory.GetFiles(temps);
        foreach (var file in files) File.Delete(file);
        return files.Length;
    }

    public Stream OpenRead(string path) => File.OpenRead(Full(path));

    public static async Task<(long Bytes, string Sha256)> DescribeAsync(string localFile, CancellationToken ct)
    {
        await using var stream = File.OpenRead(localFile);
        var hash = await SHA256.HashDataAsync(stream, ct);
        return (stream.Length, Convert.ToHexStringLower(hash));
    }
}

/// <summary>
/// Where files outputs may write: only folders under <c>EventProfiles:Forwarding:Files:Root</c> (none configured: no
/// files outputs), so an admin of one workspace cannot point an output at the server's own files (docs/security.md).
/// </summary>
public sealed record FilesRoot(string? Path)
{
    public const string Setting = "EventProfiles:Forwarding:Files:Root";

    /// <summary>Why this folder may not be used (a sentence to follow the field name), or null when it may.</summary>
    public string? Problem(string? folder)
    {
        if (string.IsNullOrWhiteSpace(Path)) return $"cannot be used: files outputs are off on this server ({Setting} is not set).";
        if (string.IsNullOrWhiteSpace(folder) || !System.IO.Path.IsPathFullyQualified(folder)) return "must be an absolute path.";
        var root = System.IO.Path.GetFullPath(Path).TrimEnd(System.IO.Path.DirectorySeparatorChar);
        var full = System.IO.Path.GetFullPath(folder).TrimEnd(System.IO.Path.DirectorySeparatorChar);
        if (!full.StartsWith(root + System.IO.Path.DirectorySeparatorChar, StringComparison.Ordinal))
            return $"must be a folder under {root} (the server's {Setting}).";
        // A symbolic link below the root could lead anywhere: every existing folder between the root and this one must be real.
        for (var at = full; at.Length > root.Length; at = System.IO.Path.GetDirectoryName(at)!)
            if (Directory.Exists(at) && new DirectoryInfo(at).LinkTarget is not null) return "must not pass through a symbolic link.";
        return null;
    }
}

public static class FilesTargets
{
    /// <summary>The settings to store: the folder as given, normalised (checked under the root before this).</summary>
    public static Domain.Forwarding.Files.FilesSettings Settings(FilesBody body) =>
        new(System.IO.Path.GetFullPath(body.Folder!), body.MaxFileBytes ?? OutputBody.DefaultMaxFileBytes, body.RewriteOnErasure ?? false);
}
