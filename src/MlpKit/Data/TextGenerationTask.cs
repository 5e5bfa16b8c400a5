namespace MlpKit.Data;

/// <summary>One prompt → target pair; <see cref="Line"/> is where it was read (0 for built-in data).</summary>
public sealed record GenerationExample(string Prompt, string Target, int Line = 0);

/// <summary>A prompt → target generation task with fixed train/dev/test splits.</summary>
public sealed record TextGenerationTask(
    string Name,
    IReadOnlyList<GenerationExample> Train,
    IReadOnlyList<GenerationExample> Dev,
    IReadOnlyList<GenerationExample> Test)
{
    /// <summary>A smaller copy drawn by the same seeded shuffle as <see cref="TextClassificationTask.Subsample"/>.</summary>
    public TextGenerationTask Subsample(int? maxTrain, int? maxDev = null, int? maxTest = null, int seed = 0) =>
        this with { Train = Take(Train, maxTrain, seed), Dev = Take(Dev, maxDev, seed + 1), Test = Take(Test, maxTest, seed + 2) };

    public override string ToString() => $"{Name}: generation, train {Train.Count}, dev {Dev.Count}, test {Test.Count}";

    internal static IReadOnlyList<GenerationExample> Take(IReadOnlyList<GenerationExample> items, int? max, int seed)
    {
        if (max is not { } m || m >= items.Count) return items;
        if (m < 0) throw new MlpKitException($"subsample size {m} must not be negative");
        var order = Enumerable.Range(0, items.Count).ToArray();
        new Random(seed).Shuffle(order);
        return order.Take(m).Order().Select(i => items[i]).ToArray();
    }
}

/// <summary>
/// Generation tasks from user files (the TSV/CSV/JSONL readers of <see cref="TaskFileReader"/>, prompt and target
/// columns by name) and the built-in ones from the assets.
/// </summary>
public static class GenerationTasks
{
    public const string WordNetGlossTask = "wordnet-gloss";

    static readonly Dictionary<string, (string Description, Func<string?, TextGenerationTask> Load)> BuiltIn = new()
    {
        [WordNetGlossTask] = ("WordNet 3.0: \"lemma (part of speech):\" -> its gloss's definition", LoadWordNetGloss),
    };

    public static IReadOnlyCollection<string> Names => BuiltIn.Keys;

    public static bool IsBuiltIn(string name) => BuiltIn.ContainsKey(name);

    public static string Describe(string name) => BuiltIn[name].Description;

    public static TextGenerationTask Load(string name, string? assetDir = null) =>
        BuiltIn.TryGetValue(name, out var t)
            ? t.Load(assetDir)
            : throw new MlpKitException($"unknown generation task '{name}'; built-in: {string.Join(", ", BuiltIn.Keys)} (or give --train/--dev files)");

    /// <summary>
    /// A task from user files. Every row needs both columns; an empty target is an error naming its file and line
    /// (the reader treats the target column as it treats a label column).
    /// </summary>
    public static TextGenerationTask LoadFiles(string train, string dev, string? test = null,
        string promptColumn = "prompt", string targetColumn = "target", string? name = null)
    {
        // The pair column is never read: a name no file uses keeps a stray "text_pair" column from mattering.
        var columns = new TaskFileColumns(promptColumn, "\0unused", targetColumn);
        List<GenerationExample> Read(string file)
        {
            var rows = TaskFileReader.Read(file, columns);
            if (rows.Count == 0) throw new MlpKitException($"{file}: no rows");
            return rows.Select(r => new GenerationExample(r.Text, r.Label, r.Line)).ToList();
        }
        return new TextGenerationTask(name ?? Path.GetFileNameWithoutExtension(train), Read(train), Read(dev), test is null ? [] : Read(test));
    }

    static readonly string[] PosNames = ["noun", "verb", "adjective", "adverb"];

    /// <summary>
    /// `wordnet-gloss`: the prompt is a synset's first lemma with its part of speech ("dog (noun):"), the target
    /// the definition part of its gloss (the text before the first "; \"" example quote). Split by
    /// <see cref="SplitRule.ByKey"/> of the synset id, so a synset lands where it does in `wordnet45`.
    /// </summary>
    public static TextGenerationTask LoadWordNetGloss(string? assetDir = null)
    {
        var splits = new[] { new List<GenerationExample>(), new List<GenerationExample>(), new List<GenerationExample>() };
        foreach (var s in WordNetGlosses.Load(assetDir))
        {
            var definition = Definition(s.Gloss);
            if (definition.Length == 0 || s.Words.Count == 0) continue;
            var pos = s.Id[0] switch { 'n' => PosNames[0], 'v' => PosNames[1], 'a' => PosNames[2], _ => PosNames[3] };
            var lemma = s.Words[0].Replace('_', ' ');
            // Adjective lemmas may carry a syntactic marker such as "(a)" or "(p)"; it is not part of the word.
            var paren = lemma.IndexOf('(');
            if (paren > 0) lemma = lemma[..paren];
            splits[(int)SplitRule.ByKey(s.Id)].Add(new GenerationExample($"{lemma} ({pos}):", definition));
        }
        return new TextGenerationTask(WordNetGlossTask, splits[0], splits[1], splits[2]);
    }

    /// <summary>The definition of a WNDB gloss: examples follow it after "; \"".</summary>
    internal static string Definition(string gloss)
    {
        var quote = gloss.IndexOf("; \"", StringComparison.Ordinal);
        var d = (quote < 0 ? gloss : gloss[..quote]).Trim();
        // A gloss made only of an example starts with a quote; it has no definition to learn.
        return d.StartsWith('"') ? "" : d;
    }
}
