using System.CommandLine;
using System.Text.Json;
using MlpKit.Lm;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit eval-lm --run RUN [--data sotu|FILE] [--split valid|test]`: perplexity and bits per character.</summary>
public static class EvalLmCommand
{
    public static Command Create()
    {
        var run = new Option<string>("--run") { Description = "Run folder made by train-lm", Required = true };
        var data = new Option<string?>("--data") { Description = "Corpus (default: the run's): sotu or a text file" };
        var split = new Option<string>("--split") { Description = "valid or test (or train)", DefaultValueFactory = _ => "valid" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("eval-lm", "Score a trained LM: perplexity per token and bits per character") { run, data, split, json };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var (spec, s) = LmRun.Evaluate(ctx.Get(run), ctx.GetOrNull(data), ctx.Get(split));
            if (ctx.Get(json))
                Console.Out.WriteLine(JsonSerializer.Serialize(new
                {
                    ffn = spec.Ffn, data = ctx.GetOrNull(data) ?? spec.Data, split = ctx.Get(split), tokens = s.Tokens, chars = s.Chars,
                    loss = s.LossPerToken, perplexity = s.Perplexity, bits_per_char = s.BitsPerChar,
                }));
            else
                Console.Out.WriteLine($"{ctx.GetOrNull(data) ?? spec.Data} {ctx.Get(split)}: {s.Tokens} tokens, {s.Chars} chars, loss {s.LossPerToken:F4} nats/token, " +
                                      $"perplexity {s.Perplexity:F3}, {s.BitsPerChar:F4} bits/char");
            return CliRun.Ok;
        });
        return command;
    }
}
