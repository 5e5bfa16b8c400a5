using MlpKit.Assets;
using MlpKit.Checkpoints;
using MlpKit.Models.UseLite;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// What a command's <c>--model</c> names: a model known by name (a downloadable asset, fetched on first use), or
/// a checkpoint directory of any architecture MlpKit reads (the zoo's, or USE-Lite's own checkpoint layout).
/// </summary>
public static class ModelSource
{
    /// <summary>Models known by name, with the asset each comes from.</summary>
    public static IReadOnlyDictionary<string, string> Named { get; } =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["use-lite"] = AssetRegistry.UseLite,
            ["minilm"] = AssetRegistry.MiniLm,
            ["arctic-xs"] = AssetRegistry.ArcticXs,
        };

    public static bool IsNamed(string spec) => Named.ContainsKey(spec);

    /// <summary>The folder behind <paramref name="spec"/>: a named model's asset (fetched when absent), else the path itself.</summary>
    public static string Directory(string spec)
    {
        if (Named.TryGetValue(spec, out var asset)) return AssetStore.EnsureAsset(asset);
        if (!System.IO.Directory.Exists(spec))
            throw new MlpKitException($"--model {spec}: no such directory or named model ({string.Join(", ", Named.Keys.Order())})");
        return spec;
    }

    /// <summary>The model's folder when <paramref name="spec"/> names one (a named model's asset or a directory), else null.</summary>
    public static string? DirectoryOrNull(string spec) =>
        IsNamed(spec) || System.IO.Directory.Exists(spec) ? Directory(spec) : null;

    public static ITransformerModel Load(string spec, ScalarType? dtype = null, Device? device = null)
    {
        var dir = Directory(spec);
        var config = Path.Combine(dir, ModelZoo.ConfigFileName);
        // The use-lite asset is the TF.js package itself (no config.json); USE-Lite checkpoints say so in config.json.
        bool useLite = Named.TryGetValue(spec, out var asset) && asset == AssetRegistry.UseLite
                       || File.Exists(config) && HfConfig.Load(config).ModelType == UseLiteConfig.ModelType;
        return useLite ? WithDType(UseLiteModel.Load(dir), dtype, device) : ModelZoo.Load(dir, dtype, device);
    }

    static ITransformerModel WithDType(UseLiteModel model, ScalarType? dtype, Device? device)
    {
        if (dtype is { } d && d != ScalarType.Float32) model.to(d);
        if (device is not null) model.to(device);
        return model;
    }
}
