namespace MlpKit.Models.UseLite;

/// <summary>
/// The zoo entry "use-lite": a sentence encoder with its own checkpoint layout (see <see cref="UseLiteCheckpoint"/>),
/// also read straight from the released TF.js package (model.json at the top or under dist/, no config.json).
/// No presets: the model is used as released.
/// </summary>
public static class UseLiteArchitecture
{
    public static ModelArchitecture UseLite { get; } = new(UseLiteConfig.ModelType, "Universal Sentence Encoder Lite (sentence embeddings)")
    {
        Build = UseLiteModel.FromConfig,
        LoadFolder = UseLiteModel.Load,
        SaveFolder = (model, dir) => ((UseLiteModel)model).Save(dir),
        RecognizesFolder = dir => File.Exists(Path.Combine(dir, "model.json")) || File.Exists(Path.Combine(dir, "dist", "model.json")),
    };
}
