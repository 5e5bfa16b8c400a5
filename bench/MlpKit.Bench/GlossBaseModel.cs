using System.Diagnostics;
using System.Text.Json;
using MlpKit.Data;
using MlpKit.Models;
using MlpKit.Runtime;
using MlpKit.Tokenizers;

namespace MlpKit.Bench;

/// <summary>
/// Writes a random-initialised GPT-2 folder whose tokenizer is a byte-level BPE learned on the training split of
/// `wordnet-gloss` (prompts and targets), plus &lt;|endoftext|&gt; as BOS/EOS. With a vocabulary of a few thousand
/// ids instead of GPT-2's 50257 the LM head no longer dominates a tiny model's step, so generation fine-tuning
/// runs of a few minutes on one CPU thread learn something measurable.
/// Usage: gloss-base OUT [--vocab 2048] [--preset tiny|small] [--bpe-lines 20000] [--seed 42].
/// </summary>
public static class GlossBaseModel
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0].StartsWith('-')) { Console.Error.WriteLine("usage: gloss-base OUT [--vocab 2048] [--preset tiny] [--bpe-lines 20000] [--seed 42]"); return 2; }
        var dir = args[0];
        string Arg(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        var vocabSize = int.Parse(Arg("--vocab", "2048"));
        var preset = Arg("--preset", "tiny");
        var lines = int.Parse(Arg("--bpe-lines", "20000"));
        var seed = long.Parse(Arg("--seed", "42"));
        TorchRuntime.EnsureInitialized();
        var clock = Stopwatch.StartNew();
        var task = GenerationTasks.LoadWordNetGloss();
        var text = string.Join("\n", task.Train.Take(lines).Select(e => e.Prompt + " " + e.Target));
        // One id is kept for <|endoftext|>.
        BpeTrainer.TrainToFolder(text, vocabSize - 1, dir);
        var vocabFile = Path.Combine(dir, BpeTrainer.VocabFile);
        var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(vocabFile))!;
        vocab[ByteLevelBpeTokenizer.EndOfText] = vocab.Values.Max() + 1;
        Checkpoints.AtomicFile.WriteAllText(vocabFile, JsonSerializer.Serialize(vocab));
        using var model = ModelZoo.Create(ModelZoo.Presets("gpt2", preset, vocab.Count), seed);
        ModelZoo.Save(model, dir);
        Console.WriteLine($"wrote gpt2 ({preset}, vocab {vocab.Count}, BPE from {Math.Min(lines, task.Train.Count)} wordnet-gloss training pairs) to {dir} in {clock.Elapsed.TotalSeconds:F0} s");
        return 0;
    }
}
