using System.CommandLine;
using MlpKit.Models;
using TorchSharp;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit init --arch A --preset P --out DIR`: a random-initialised checkpoint in the Hugging Face layout.</summary>
public static class InitCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = $"Architecture: {string.Join(", ", ModelZoo.Architectures)}", Required = true };
        arch.AcceptOnlyFromAmong(ModelZoo.Architectures.ToArray());
        var preset = new Option<string>("--preset") { Description = "Size: tiny (2 layers, hidden 64) or small (4 layers, hidden 256)", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong(ModelZoo.PresetNames.ToArray());
        var output = new Option<string>("--out", "-o") { Description = "Directory to write config.json and model.safetensors to", Required = true }.OutputFolder();
        var vocab = new Option<long?>("--vocab-size") { Description = "Vocabulary size (default: the tokenizer's, else the real model's)" };
        var labels = new Option<int>("--num-labels") { Description = "Add a sequence-classification head with this many classes (bert, roberta)", DefaultValueFactory = _ => 0 };
        var force = new Option<bool>("--force") { Description = "Overwrite a model already in --out" };
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "auto: write tokenizer files (GPT-2's BPE for gpt2/roberta, from the gpt2-vocab asset; for bert a WordPiece vocabulary built from the SOTU training speeches); none: write none",
            DefaultValueFactory = _ => "auto",
        };
        tokenizer.AcceptOnlyFromAmong("auto", "none");
        var command = new Command("init", "Write a random-initialised model in the Hugging Face layout") { arch, preset, output, vocab, labels, force, tokenizer };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var (a, dir) = (ctx.Get(arch), ctx.Get(output));
            if (File.Exists(Path.Combine(dir, ModelZoo.ConfigFileName)) && !ctx.Get(force))
                throw new MlpKitException($"--out {dir}: already holds a model (config.json); pass --force to overwrite");
            Directory.CreateDirectory(dir);
            long? vocabSize = ctx.GetOrNull(vocab);
            if (ctx.Get(tokenizer) == "auto" && ModelZoo.Find(a)?.WriteTokenizer?.Invoke(dir, vocabSize) is long tokenizerVocab)
            {
                if (vocabSize is long v && v < tokenizerVocab)
                    throw new MlpKitException($"--vocab-size {v}: smaller than the tokenizer's vocabulary ({tokenizerVocab}); pass --tokenizer none for a model without tokenizer files");
                vocabSize ??= tokenizerVocab;
            }
            var config = ModelZoo.Presets(a, ctx.Get(preset), vocabSize, ctx.Get(labels));
            using var model = ModelZoo.Create(config, ctx.Seed);
            if (ctx.DType != TorchSharp.torch.ScalarType.Float32) model.Module.to(ctx.DType);
            ModelZoo.Save(model, dir);
            var s = ModelSummary.Of(model, dir);
            Console.Out.WriteLine($"wrote {a} ({ctx.Get(preset)}, {s.Parameters.Total:N0} parameters, vocab {s.VocabSize}) to {dir}");
            return CliRun.Ok;
        });
        return command;
    }
}
