namespace MlpKit.Data;

/// <summary>
/// Task `sotu-year`: a passage of a State of the Union address → the year it was delivered (regression).
/// <list type="bullet">
/// <item>Passages: the speech is cut into sentences (a '.', '!' or '?', optional closing quotes or brackets, white
/// space, then a capital, digit or opening quote), and consecutive sentences are joined until a passage holds at
/// least <see cref="MinWords"/> words; a short remainder joins the previous passage; a passage longer than
/// <see cref="MaxWords"/> words keeps its first <see cref="MaxWords"/>.</item>
/// <item>Size: at most <see cref="PassagesPerSpeech"/> passages per speech, evenly spaced through it (passage
/// ⌊(i + ½)·n / K⌋ for i &lt; K), so every speech weighs about the same and the task stays small.</item>
/// <item>Splits by speech as <see cref="SotuCorpus.SplitOf"/> does (years ending in 8 dev, 9 test), so no speech
/// leaks passages across splits.</item>
/// <item>Target: the year standardised with the training passages' mean and (population) standard deviation,
/// which <see cref="YearScale"/> returns; Pearson and Spearman do not depend on it, the MSE is in those units.</item>
/// </list>
/// </summary>
public static class SotuYearTask
{
    public const string TaskName = "sotu-year";
    public const int PassagesPerSpeech = 16;
    public const int MinWords = 40;
    public const int MaxWords = 150;

    public static TextRegressionTask LoadTask(string? assetDir = null) => Build(SotuCorpus.Load(assetDir)).Task;

    /// <summary>The mean and standard deviation of the training years that standardise the target.</summary>
    public static (double Mean, double Std) YearScale(string? assetDir = null) => Build(SotuCorpus.Load(assetDir)).Scale;

    static (TextRegressionTask Task, (double Mean, double Std) Scale) Build(IReadOnlyList<SotuSpeech> speeches)
    {
        var splits = new[] { new List<(string Text, int Year)>(), new List<(string Text, int Year)>(), new List<(string Text, int Year)>() };
        foreach (var s in speeches)
            foreach (var p in Spread(Passages(s.Text), PassagesPerSpeech))
                splits[(int)SotuCorpus.SplitOf(s.Year)].Add((p, s.Year));
        if (splits[0].Count == 0) throw new MlpKitException($"{TaskName}: the SOTU corpus has no training speeches");
        var mean = splits[0].Average(e => (double)e.Year);
        var std = Math.Sqrt(splits[0].Average(e => (e.Year - mean) * (e.Year - mean)));
        if (!(std > 0)) throw new MlpKitException($"{TaskName}: every training speech has the same year; nothing to predict");
        IReadOnlyList<TextExample> Examples(int i) => splits[i].Select(e => new TextExample(e.Text, null, 0, (e.Year - mean) / std)).ToArray();
        return (new TextRegressionTask(TaskName, Examples(0), Examples(1), Examples(2)), (mean, std));
    }

    /// <summary>Sentences joined into passages of at least <see cref="MinWords"/> words (see the class summary).</summary>
    public static IReadOnlyList<string> Passages(string text)
    {
        var passages = new List<List<string>>();
        var current = new List<string>();
        foreach (var sentence in Sentences(text))
        {
            current.AddRange(sentence.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            if (current.Count >= MinWords) { passages.Add(current); current = []; }
        }
        if (current.Count > 0)
        {
            if (passages.Count > 0) passages[^1].AddRange(current);
            else passages.Add(current);
        }
        return passages.Select(words => string.Join(' ', words.Take(MaxWords))).ToArray();
    }

    /// <summary>The text cut after . ! ? (and closing quotes) where an upper-case letter, digit or opening quote follows.</summary>
    public static IEnumerable<string> Sentences(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is not ('.' or '!' or '?')) continue;
            var end = i + 1;
            while (end < text.Length && text[end] is '"' or '\'' or ')' or ']' or '\u201D' or '\u2019') end++;
            var next = end;
            while (next < text.Length && char.IsWhiteSpace(text[next])) next++;
            if (next == end || next >= text.Length) continue;
            if (!(char.IsUpper(text[next]) || char.IsDigit(text[next]) || text[next] is '"' or '(' or '\u201C' or '\u2018')) continue;
            yield return text[start..end];
            start = next;
            i = next - 1;
        }
        if (start < text.Length && text[start..].Trim().Length > 0) yield return text[start..];
    }

    static IEnumerable<string> Spread(IReadOnlyList<string> items, int k)
    {
        if (items.Count <= k) return items;
        return Enumerable.Range(0, k).Select(i => items[(int)((i + 0.5) * items.Count / k)]);
    }
}
