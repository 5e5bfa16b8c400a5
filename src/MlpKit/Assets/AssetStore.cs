namespace MlpKit.Assets;

/// <summary>The state of one asset folder.</summary>
/// <param name="Spec">The registry entry.</param>
/// <param name="Dir">Where the asset lives (or would live).</param>
/// <param name="Present">Unpacked, its manifest matches the registry and every file has its recorded size.</param>
/// <param name="Bytes">Unpacked size (0 when absent).</param>
/// <param name="Problem">Why it is not present (absent, incomplete, other version), or null.</param>
public sealed record AssetStatus(AssetSpec Spec, string Dir, bool Present, long Bytes, string? Problem);

/// <summary>
/// Downloads, verifies and unpacks the registered assets. Each archive is fetched into a scratch folder,
/// checked against the pinned checksum, unpacked next to the final folder and renamed into place only when
/// complete, so an interrupted fetch never leaves a half-filled asset that looks present.
/// </summary>
public sealed class AssetStore
{
    readonly IArchiveDownloader _downloader;
    readonly TextWriter _log;
    readonly IReadOnlyList<AssetSpec> _specs;

    /// <param name="root">Assets folder; default <see cref="AssetLocations.Root"/>.</param>
    /// <param name="downloader">How archives are fetched; default npm pack / apt-get download.</param>
    /// <param name="log">Progress lines; default stderr.</param>
    /// <param name="specs">The known assets; default <see cref="AssetRegistry.All"/>.</param>
    public AssetStore(string? root = null, IArchiveDownloader? downloader = null, TextWriter? log = null,
        IReadOnlyList<AssetSpec>? specs = null)
    {
        Root = root ?? AssetLocations.Root();
        _downloader = downloader ?? new ToolArchiveDownloader();
        _log = log ?? Console.Error;
        _specs = specs ?? AssetRegistry.All;
    }

    AssetSpec Spec(string name) =>
        _specs.FirstOrDefault(s => s.Name == name)
        ?? throw new MlpKitException($"unknown asset '{name}'; known assets: {string.Join(", ", _specs.Select(s => s.Name))}");

    public string Root { get; }

    /// <summary>The folder of a registered asset, fetched first when absent or stale (progress on stderr).</summary>
    public static string EnsureAsset(string name) => new AssetStore().Ensure(name);

    public string PathOf(string name) => Path.Combine(Root, Spec(name).Name);

    public AssetStatus Status(string name)
    {
        var spec = Spec(name);
        var dir = Path.Combine(Root, spec.Name);
        if (!Directory.Exists(dir)) return new(spec, dir, false, 0, "not fetched");
        var manifest = AssetManifest.TryRead(dir);
        if (manifest is null) return new(spec, dir, false, 0, $"no readable {AssetManifest.FileName}");
        var expected = spec.Sources.Select(s => (s.Spec, s.Checksum));
        if (!manifest.Sources.Select(s => (s.Spec, s.Checksum)).SequenceEqual(expected))
            return new(spec, dir, false, manifest.TotalBytes, "fetched from a different source version");
        foreach (var (file, size) in manifest.Files)
        {
            var info = new FileInfo(Path.Combine(dir, file));
            if (!info.Exists) return new(spec, dir, false, manifest.TotalBytes, $"file {file} missing");
            if (info.Length != size) return new(spec, dir, false, manifest.TotalBytes, $"file {file} has {info.Length} bytes, expected {size}");
        }
        return new(spec, dir, true, manifest.TotalBytes, null);
    }

    /// <summary>
    /// The deep check: every file re-hashed against the SHA-256 its manifest recorded at fetch time. Returns
    /// the problems found (empty when the asset is intact).
    /// </summary>
    public IReadOnlyList<string> Verify(string name)
    {
        var status = Status(name);
        if (!status.Present) return [$"{name}: {status.Problem}"];
        var manifest = AssetManifest.TryRead(status.Dir)!;
        if (manifest.Sha256 is null) return [$"{name}: the manifest has no file hashes (fetched by an older MlpKit); run `mlpkit assets fetch --force {name}`"];
        var problems = new List<string>();
        foreach (var (file, expected) in manifest.Sha256)
        {
            var path = Path.Combine(status.Dir, file);
            if (!File.Exists(path)) problems.Add($"{name}: {file}: missing");
            else if (Sha256Of(path) != expected) problems.Add($"{name}: {file}: content differs from the fetched file");
        }
        return problems;
    }

    static string Sha256Of(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    public string Ensure(string name)
    {
        var status = Status(name);
        return status.Present ? status.Dir : Fetch(name, force: true);
    }

    /// <summary>Fetches <paramref name="name"/> unless present (or always, with <paramref name="force"/>).</summary>
    public string Fetch(string name, bool force = false)
    {
        var status = Status(name);
        if (status.Present && !force) return status.Dir;
        var spec = status.Spec;
        Directory.CreateDirectory(Root);
        var token = Guid.NewGuid().ToString("N")[..8];
        var staging = Path.Combine(Root, $".{spec.Name}.staging-{token}");
        var downloads = Path.Combine(Root, $".{spec.Name}.download-{token}");
        try
        {
            Directory.CreateDirectory(staging);
            var sources = new List<AssetManifestSource>();
            foreach (var source in spec.Sources)
                sources.Add(FetchSource(spec, source, Path.Combine(downloads, sources.Count.ToString()), staging));
            spec.Prepare?.Invoke(staging, _log);
            foreach (var required in spec.RequiredFiles)
                if (!File.Exists(Path.Combine(staging, required)))
                    throw new MlpKitException($"asset {spec.Name}: the archives lack the expected file '{required}'");
            var files = Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories)
                .ToDictionary(f => Path.GetRelativePath(staging, f).Replace('\\', '/'), f => new FileInfo(f).Length);
            var hashes = files.Keys.ToDictionary(f => f, f => Sha256Of(Path.Combine(staging, f)));
            new AssetManifest(spec.Name, sources, new SortedDictionary<string, long>(files, StringComparer.Ordinal), DateTime.UtcNow,
                new SortedDictionary<string, string>(hashes, StringComparer.Ordinal)).Write(staging);
            try
            {
                MoveIntoPlace(staging, status.Dir, token);
            }
            catch (IOException) when (Status(name).Present)
            {
                // Another process finished the same fetch between our check and our rename: keep its copy.
            }
            return status.Dir;
        }
        finally
        {
            TryDelete(staging);
            TryDelete(downloads);
        }
    }

    AssetManifestSource FetchSource(AssetSpec spec, AssetSource source, string downloadDir, string staging)
    {
        _log.Write($"fetching {spec.Name} ({source.Spec})... ");
        _log.Flush();
        try
        {
            Directory.CreateDirectory(downloadDir);
            var archive = _downloader.Download(source, downloadDir);
            var bytes = new FileInfo(archive).Length;
            ArchiveChecksum.Verify(archive, source.Checksum, $"{spec.Name} ({source.Spec})");
            var target = Path.Combine(staging, source.TargetSubdir);
            Directory.CreateDirectory(target);
            var written = source.Kind switch
            {
                AssetSourceKind.Debian => ArchiveUnpacker.ExtractDeb(archive, source.StripPrefix, target),
                AssetSourceKind.NuGet => AssemblyResources.ExtractFromNupkg(archive, source.StripPrefix, target),
                _ => ArchiveUnpacker.ExtractTarGz(archive, source.StripPrefix, target),
            };
            if (written.Count == 0)
                throw new MlpKitException($"{spec.Name} ({source.Spec}): no files under '{source.StripPrefix}/' in the archive");
            _log.WriteLine($"{FormatSize(bytes)}, ok");
            return new AssetManifestSource(source.Spec, source.Checksum, bytes);
        }
        catch
        {
            _log.WriteLine("failed");
            throw;
        }
    }

    /// <summary>Renames the complete staging folder over the old one (moved aside first, then deleted).</summary>
    static void MoveIntoPlace(string staging, string final, string token)
    {
        string? aside = null;
        if (Directory.Exists(final))
        {
            aside = final + $".old-{token}";
            Directory.Move(final, aside);
        }
        Directory.Move(staging, final);
        if (aside is not null) TryDelete(aside);
    }

    static void TryDelete(string dir)
    {
        try
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public static string FormatSize(long bytes) => bytes switch
    {
        >= 1_000_000 => $"{bytes / 1e6:0.0} MB",
        >= 1_000 => $"{bytes / 1e3:0.0} kB",
        _ => $"{bytes} B",
    };
}
