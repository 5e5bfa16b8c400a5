using MlpKit.Data;

namespace MlpKit.Compression;

/// <summary>Where compression's examples come from: files (or the built-in text when absent) and how many of each.</summary>
/// <param name="Calib">Calibration file, one example per line; null = the built-in text (models with a tokenizer) or random ids.</param>
/// <param name="Heldout">Held-out file; null = the built-in held-out text for models with a tokenizer, none otherwise.</param>
/// <param name="CalibSamples">Calibration examples used.</param>
/// <param name="NtkSamples">Examples of the NTK (taken from the calibration source); 0 skips the NTK.</param>
/// <param name="HeldoutSamples">Held-out examples; 0 skips the held-out metrics.</param>
/// <param name="Format">How file lines are read (text or token ids).</param>
/// <param name="Seed">Seeds the built-in text's order and the random ids.</param>
public sealed record ExampleSources(
    string? Calib = null,
    string? Heldout = null,
    int CalibSamples = 256,
    int NtkSamples = 32,
    int HeldoutSamples = 200,
    ExampleFormat Format = ExampleFormat.Auto,
    long Seed = 0)
{
    public void Validate()
    {
        if (CalibSamples < 1) throw new MlpKitException($"--calib-samples {CalibSamples}: must be at least 1");
        if (NtkSamples < 0) throw new MlpKitException($"--ntk-samples {NtkSamples}: must be 0 or more");
        if (HeldoutSamples < 0) throw new MlpKitException($"--heldout-samples {HeldoutSamples}: must be 0 or more");
        foreach (var f in new[] { Calib, Heldout })
            if (f is not null && !File.Exists(f)) throw new MlpKitException($"{f}: file not found");
    }
}

/// <summary>The batches one compression run uses, and a line saying where they came from.</summary>
public sealed record CompressionExamples(ModelBatch Calibration, ModelBatch? Ntk, ModelBatch? Heldout, string Description)
{
    public static CompressionExamples Build(CompressibleModel m, ExampleSources s)
    {
        s.Validate();
        int wanted = Math.Max(s.CalibSamples, s.NtkSamples);
        bool text = s.Format == ExampleFormat.Text || (s.Format == ExampleFormat.Auto && m.TakesText);
        ModelBatch cal, ntk;
        string description;
        if (s.Calib is not null || text)
        {
            var (lines, source, format) = s.Calib is { } file
                ? (TextLines.Read(file, wanted), file, s.Format)
                : (CalibrationText.Sentences(DataSplit.Train, wanted, s.Seed), "built-in calibration text", ExampleFormat.Text);
            cal = m.MakeBatch(lines.Take(s.CalibSamples).ToList(), source, format);
            ntk = m.MakeBatch(lines.Take(Math.Max(1, s.NtkSamples)).ToList(), source, format);
            description = s.Calib is null ? $"{lines.Count} built-in {CalibrationText.Description}"
                : $"{Math.Min(lines.Count, s.CalibSamples)} examples of {source}";
        }
        else
        {
            cal = m.RandomBatch(s.CalibSamples, 32, s.Seed);
            ntk = m.RandomBatch(Math.Max(1, s.NtkSamples), 32, s.Seed + 1);
            description = $"{s.CalibSamples} random token sequences (the model has no tokenizer; pass --calib with token ids)";
        }
        ModelBatch? held = null;
        if (s.HeldoutSamples > 0)
        {
            if (s.Heldout is { } hf)
                held = m.MakeBatch(TextLines.Read(hf, s.HeldoutSamples), hf, s.Format);
            else if (text)
                held = m.MakeBatch(CalibrationText.Sentences(DataSplit.Test, s.HeldoutSamples, s.Seed), "built-in held-out text", ExampleFormat.Text);
        }
        if (held is not null) description += $"; {held.Count} held-out examples";
        return new CompressionExamples(cal, s.NtkSamples > 0 ? ntk : null, held, description);
    }
}
