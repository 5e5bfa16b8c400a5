namespace MlpKit.Assets;

/// <summary>Fetches one source archive into a folder and returns the archive's path.</summary>
public interface IArchiveDownloader
{
    string Download(AssetSource source, string intoDir);
}

/// <summary>
/// `npm pack NAME@VERSION` for npm sources, `apt-get download PKG=VERSION` for Debian ones, and for NuGet a
/// `dotnet restore` of a throw-away project holding one PackageDownload item: the ordinary NuGet client, with
/// the user's sources, proxies and credentials, fetches the .nupkg into a private packages folder.
/// </summary>
public sealed class ToolArchiveDownloader : IArchiveDownloader
{
    public string Download(AssetSource source, string intoDir) => source.Kind switch
    {
        AssetSourceKind.Npm => NpmPack(source, intoDir),
        AssetSourceKind.Debian => AptDownload(source, intoDir),
        AssetSourceKind.NuGet => NuGetDownload(source, intoDir),
        _ => throw new MlpKitException($"{source.Spec}: unsupported source kind"),
    };

    static string NpmPack(AssetSource source, string dir)
    {
        var (exit, _, stderr) = ToolProcess.Run("npm",
            ["pack", $"{source.Package}@{source.Version}", "--pack-destination", dir], dir,
            "install Node.js and npm (Debian: apt-get install npm)");
        if (exit != 0)
            throw new MlpKitException($"{source.Spec}: npm pack failed (exit {exit}): {ToolProcess.LastLine(stderr)}" +
                                      "; is the npm registry reachable and does it have that version?");
        return SingleFile(dir, "*.tgz", source);
    }

    static string AptDownload(AssetSource source, string dir)
    {
        var (exit, _, stderr) = ToolProcess.Run("apt-get",
            ["download", $"{source.Package}={source.Version}"], dir,
            "Debian packages are fetched with apt-get (Debian/Ubuntu only)");
        if (exit != 0)
            throw new MlpKitException($"{source.Spec}: apt-get download failed (exit {exit}): {ToolProcess.LastLine(stderr)}" +
                                      "; run `apt-get update` or check that this Debian release has that version");
        return SingleFile(dir, "*.deb", source);
    }

    static string NuGetDownload(AssetSource source, string dir)
    {
        var project = Path.Combine(dir, "fetch.csproj");
        File.WriteAllText(project, $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>netstandard2.0</TargetFramework></PropertyGroup>
              <ItemGroup><PackageDownload Include="{source.Package}" Version="[{source.Version}]" /></ItemGroup>
            </Project>
            """);
        var packages = Path.Combine(dir, "packages");
        var (exit, stdout, stderr) = ToolProcess.Run("dotnet",
            // The folder may sit inside a repository whose Directory.Build.* must not apply to this project.
            ["restore", project, "--packages", packages, "--nologo", "-v", "q", "-p:ImportDirectoryBuildProps=false", "-p:ImportDirectoryBuildTargets=false"], dir,
            "install the .NET SDK (it carries the NuGet client)");
        if (exit != 0)
            throw new MlpKitException($"{source.Spec}: dotnet restore failed (exit {exit}): {ToolProcess.LastLine(stderr.Length > 0 ? stderr : stdout)}" +
                                      "; is a NuGet source reachable and does it have that version?");
        var id = source.Package.ToLowerInvariant();
        var version = source.Version.ToLowerInvariant();
        var nupkg = Path.Combine(packages, id, version, $"{id}.{version}.nupkg");
        return File.Exists(nupkg) ? nupkg : throw new MlpKitException($"{source.Spec}: restore succeeded but {nupkg} is missing");
    }

    static string SingleFile(string dir, string pattern, AssetSource source)
    {
        var files = Directory.GetFiles(dir, pattern);
        return files.Length == 1
            ? files[0]
            : throw new MlpKitException($"{source.Spec}: expected one {pattern} archive after download, found {files.Length}");
    }
}
