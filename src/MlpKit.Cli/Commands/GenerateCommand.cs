using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using MlpKit.Generation;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit generate --model M (--prompt TEXT | --prompt-ids "1 2 3") [--max-new-tokens N] [--greedy | --temperature T
/// --top-p P --top-k K] [--json]`: continues a prompt with any decoder (<see cref="GenerateRun"/>).
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "A decoder: gpt2, mixtral or llama-family folder (llama, mistral, qwen2), or a train-lm run folder", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (tokenized by the model's tokenizer)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as whitespace-separated token ids" };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens generated (fewer when EOS comes first)", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "Pick the most likely token each step (the default unless --temperature, --top-p or --top-k is given)" };
        var temperature = new Option<double?>("--temperature") { Description = "Sample with this temperature" };
        var topP = new Option<double?>("--top-p") { Description = "Sample from the smallest set of tokens with this total probability" };
        var topK = new Option<int?>("--top-k") { Description = "Sample from the K most likely tokens" };
        var json = new Option<bool>("--json") { Description = "Print JSON: prompt ids, generated ids, text" };
        var command = new Command("generate", "Continue a prompt with a decoder (greedy or sampled), stopping at end-of-sequence")
        {
            model, prompt, promptIds, maxNew, greedy, temperature, topP, topK, json,
        };
        CliRun.SetAction(command, ctx =>
        {
            bool sample = ctx.GetOrNull(temperature) is not null || ctx.GetOrNull(topP) is not null || ctx.GetOrNull(topK) is not null;
            if (sample && ctx.Get(greedy)) throw new MlpKitException("--greedy and --temperature/--top-p/--top-k: give one or the other");
            var options = new GenerationOptions
            {
                MaxNewTokens = ctx.Get(maxNew), Sample = sample, Temperature = ctx.GetOrNull(temperature) ?? 1.0,
                TopP = ctx.GetOrNull(topP) ?? 1.0, TopK = ctx.GetOrNull(topK) ?? 0, Seed = ctx.Seed,
            };
            var ids = ctx.GetOrNull(promptIds) is { } s ? ParseIds(s) : null;
            ctx.InitTorch();
            var r = GenerateRun.Run(new GenerateSpec(ctx.Get(model), ctx.GetOrNull(prompt), ids, options));
            if (ctx.Get(json))
                Console.Out.WriteLine(JsonSerializer.Serialize(new { prompt_ids = r.PromptIds, generated_ids = r.Generated, text = r.Text, stopped_at_eos = r.StoppedAtEos }));
            else
                Console.Out.WriteLine(r.Text ?? string.Join(' ', r.Generated));
            return CliRun.Ok;
        });
        return command;
    }

    static long[] ParseIds(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)
        .Select(p => long.TryParse(p, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
            : throw new MlpKitException($"--prompt-ids: '{p}' is not a token id")).ToArray();
}
