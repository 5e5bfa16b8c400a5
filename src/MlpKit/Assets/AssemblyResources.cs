using System.IO.Compression;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace MlpKit.Assets;

/// <summary>
/// Unpacks a .nupkg: the embedded manifest resources of one assembly inside it are written out as files, read
/// through the assembly's metadata (System.Reflection.Metadata's PEReader) without loading or running it.
/// A resource `Some.Namespace.Resources.model.onnx` becomes `model.onnx` (the last two dot-parts).
/// </summary>
public static class AssemblyResources
{
    /// <param name="nupkg">The package file (a zip).</param>
    /// <param name="assemblyPath">The assembly's path inside the package, e.g. lib/netstandard2.1/X.dll.</param>
    /// <param name="targetDir">Where the resource files go.</param>
    public static List<string> ExtractFromNupkg(string nupkg, string assemblyPath, string targetDir)
    {
        byte[] assembly;
        try
        {
            using var zip = ZipFile.OpenRead(nupkg);
            var entry = zip.GetEntry(assemblyPath)
                        ?? throw new MlpKitException($"{nupkg}: the package has no {assemblyPath}");
            using var stream = entry.Open();
            using var buffer = new MemoryStream((int)entry.Length);
            stream.CopyTo(buffer);
            assembly = buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new MlpKitException($"{nupkg}: not a valid NuGet package (zip): {e.Message}", e);
        }
        return Extract(assembly, $"{nupkg}!{assemblyPath}", targetDir);
    }

    public static List<string> Extract(byte[] assembly, string what, string targetDir)
    {
        var written = new List<string>();
        try
        {
            using var pe = new PEReader(new MemoryStream(assembly));
            if (!pe.HasMetadata || pe.PEHeaders.CorHeader is null) throw new MlpKitException($"{what}: not a .NET assembly");
            var md = pe.GetMetadataReader();
            var directory = pe.PEHeaders.CorHeader.ResourcesDirectory;
            foreach (var handle in md.ManifestResources)
            {
                var resource = md.GetManifestResource(handle);
                if (!resource.Implementation.IsNil) continue; // lives in another file
                var name = md.GetString(resource.Name);
                var parts = name.Split('.');
                var file = parts.Length >= 2 ? parts[^2] + "." + parts[^1] : name;
                if (file.Contains('/') || file.Contains('\\') || file.StartsWith('.'))
                    throw new MlpKitException($"{what}: resource name '{name}' is not a plain file name");
                var block = pe.GetSectionData(directory.RelativeVirtualAddress);
                var reader = block.GetReader((int)resource.Offset, block.Length - (int)resource.Offset);
                int length = reader.ReadInt32();
                if (length < 0 || length > reader.RemainingBytes)
                    throw new MlpKitException($"{what}: resource '{name}' claims {length} bytes, beyond the resource section");
                Directory.CreateDirectory(targetDir);
                File.WriteAllBytes(Path.Combine(targetDir, file), reader.ReadBytes(length));
                written.Add(file);
            }
        }
        catch (BadImageFormatException e)
        {
            throw new MlpKitException($"{what}: not a readable .NET assembly: {e.Message}", e);
        }
        return written;
    }
}
