using System.Text;
using MlpKit.Data;

namespace MlpKit.Lm;

/// <summary>
/// A corpus split as one token stream. <see cref="ScoredChars"/> counts the characters (Unicode scalars) a model
/// predicts when it scores every token after the first: the text's characters minus those of the first token,
/// the denominator of bits per character.
/// </summary>
public sealed record LmTokenStream(int[] Tokens, long ScoredChars, int VocabSize, string Source)
{
    public long Length => Tokens.Length;

    public static LmTokenStream FromText(string text, ILmTokenizer tokenizer, string source)
    {
        var tokens = tokenizer.Encode(text);
        if (tokens.Length < 2) throw new MlpKitException($"{source}: the text gives {tokens.Length} token(s); at least 2 are needed");
        var chars = CountChars(text) - CountChars(tokenizer.Decode([tokens[0]]));
        return new LmTokenStream(tokens, Math.Max(1, chars), tokenizer.VocabSize, source);
    }

    public static long CountChars(string s)
    {
        long n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }

    /// <summary>
    /// The text of a split: "sotu" is the State of the Union corpus with its fixed split by year; any other
    /// value is a text file, cut into train/valid/test as its first 90% / next 5% / last 5% of lines.
    /// </summary>
    public static string SplitText(string data, string split)
    {
        var which = split switch
        {
            "train" => DataSplit.Train,
            "valid" => DataSplit.Dev,
            "test" => DataSplit.Test,
            _ => throw new MlpKitException($"--split {split}: expected train, valid or test"),
        };
        if (data == "sotu") return SotuCorpus.Text(which);
        if (!File.Exists(data)) throw new MlpKitException($"{data}: corpus file not found (give --data sotu or a text file)");
        var lines = File.ReadAllText(data, Encoding.UTF8).Split('\n');
        if (lines.Length < 3) throw new MlpKitException($"{data}: needs at least 3 lines to split into train/valid/test");
        int a = Math.Clamp((int)Math.Round(lines.Length * 0.9), 1, lines.Length - 2);
        int b = Math.Clamp((int)Math.Round(lines.Length * 0.95), a + 1, lines.Length - 1);
        var part = which switch { DataSplit.Train => lines[..a], DataSplit.Dev => lines[a..b], _ => lines[b..] };
        return string.Join('\n', part);
    }
}
