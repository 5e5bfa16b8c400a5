using MlpKit.Lm;
using MlpKit.Models;
using MlpKit.Tokenizers;
using static TorchSharp.torch;

namespace MlpKit.Generation;

/// <summary>What `mlpkit generate` continues: a model (a decoder checkpoint or a train-lm run) and a prompt as text or ids.</summary>
public sealed record GenerateSpec(string Model, string? Prompt, IReadOnlyList<long>? PromptIds, GenerationOptions Options);

/// <summary>The prompt's ids, the generated ids (ending at EOS when one was produced), and their text where a tokenizer exists.</summary>
public sealed record GenerateResult(long[] PromptIds, long[] Generated, string? Text, bool StoppedAtEos);

/// <summary>
/// Continues a prompt with any decoder: zoo causal LMs (GPT-2, Mixtral, the Llama family) through
/// <see cref="TextGenerator"/> with a KV cache, and the σ-MoE-family LMs of `train-lm` runs by recomputing their
/// window each step (they keep no cache). Stops at the tokenizer's (or config's) end-of-sequence token.
/// </summary>
public static class GenerateRun
{
    public static GenerateResult Run(GenerateSpec spec)
    {
        if ((spec.Prompt is null) == (spec.PromptIds is null))
            throw new MlpKitException("--prompt or --prompt-ids: give exactly one");
        spec.Options.Validate();
        var dir = ModelSource.Directory(spec.Model);
        return LmRunSpec.IsRunFolder(dir) ? RunLm(spec, dir) : RunZoo(spec, dir);
    }

    static GenerateResult RunZoo(GenerateSpec spec, string dir)
    {
        using var loaded = ModelSource.Load(spec.Model);
        if (loaded is not ICausalLanguageModel lm)
            throw new MlpKitException($"--model {spec.Model}: a {loaded.Architecture} model is not a decoder; generate continues gpt2, mixtral, llama, mistral, qwen2 or train-lm runs");
        var tokenizer = TokenizerFactory.TryLoad(dir);
        var prompt = PromptIds(spec, lm.VocabSize, tokenizer is null ? null : text => tokenizer.EncodePair(text, null, null).Ids);
        long? eos = tokenizer?.Special.Eos is int e ? e
            : lm.Config.Root["eos_token_id"] is System.Text.Json.Nodes.JsonValue ? lm.Config.GetLong("eos_token_id") : null;
        var options = spec.Options with { EosTokenId = spec.Options.EosTokenId ?? eos };
        var generated = TextGenerator.Generate(lm, prompt, options);
        return new GenerateResult(prompt, generated, tokenizer?.Decode(generated.Select(i => (int)i)), Stopped(generated, options));
    }

    static GenerateResult RunLm(GenerateSpec spec, string dir)
    {
        var (model, tokenizer, context) = LmRun.LoadForGeneration(dir);
        using (model)
        {
            var prompt = PromptIds(spec, tokenizer.VocabSize, tokenizer.Encode);
            var options = spec.Options;
            // The model keeps no cache: each step recomputes its training window, the last `context` tokens.
            var generated = TextGenerator.Decode(prompt, options, long.MaxValue, model.parameters().First().device, sequence =>
            {
                var window = sequence.Skip(Math.Max(0, sequence.Count - (int)context)).ToArray();
                return model.call(tensor(window, [1, window.Length])).select(1, -1);
            });
            return new GenerateResult(prompt, generated, tokenizer.Decode(generated.Select(i => (int)i)), Stopped(generated, options));
        }
    }

    static bool Stopped(long[] generated, GenerationOptions o) => generated.Length > 0 && o.EosTokenId == generated[^1];

    static long[] PromptIds(GenerateSpec spec, long vocab, Func<string, int[]>? encode)
    {
        long[] ids;
        if (spec.Prompt is { } text)
            ids = (encode ?? throw new MlpKitException($"--model {spec.Model}: the model folder has no tokenizer files; give --prompt-ids instead of --prompt"))(text)
                .Select(i => (long)i).ToArray();
        else
            ids = spec.PromptIds!.ToArray();
        if (ids.Length == 0) throw new MlpKitException("--prompt: the prompt has no tokens");
        foreach (var id in ids)
            if (id < 0 || id >= vocab) throw new MlpKitException($"--prompt-ids: token id {id} is outside the vocabulary [0, {vocab})");
        return ids;
    }
}
