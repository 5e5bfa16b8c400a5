namespace MlpKit.Data;

/// <summary>
/// One labelled example: a text, an optional second text (pair tasks), the label index, and for regression
/// tasks the numeric target (the label index is then 0).
/// </summary>
public sealed record TextExample(string Text, string? TextPair, int Label, double Target = 0);

/// <summary>
/// A text-classification task with fixed train/dev/test splits. Labels are indices into
/// <see cref="LabelNames"/>.
/// </summary>
public sealed record TextClassificationTask(
    string Name,
    IReadOnlyList<string> LabelNames,
    IReadOnlyList<TextExample> Train,
    IReadOnlyList<TextExample> Dev,
    IReadOnlyList<TextExample> Test) : ITextTask
{
    public int NumClasses => LabelNames.Count;

    public IReadOnlyList<TextExample> Split(DataSplit split) => split switch
    {
        DataSplit.Train => Train,
        DataSplit.Dev => Dev,
        DataSplit.Test => Test,
        _ => throw new ArgumentOutOfRangeException(nameof(split)),
    };

    /// <summary>
    /// A smaller copy for quick runs: at most the given number of examples per split, drawn by a seeded
    /// shuffle (the same seed gives the same subset). A null limit keeps the split whole.
    /// </summary>
    public TextClassificationTask Subsample(int? maxTrain, int? maxDev = null, int? maxTest = null, int seed = 0) =>
        this with
        {
            Train = Take(Train, maxTrain, seed),
            Dev = Take(Dev, maxDev, seed + 1),
            Test = Take(Test, maxTest, seed + 2),
        };

    ITextTask ITextTask.Subsample(int? maxTrain, int? maxDev, int? maxTest, int seed) => Subsample(maxTrain, maxDev, maxTest, seed);

    /// <summary>Examples per class in a split.</summary>
    public int[] ClassCounts(DataSplit split)
    {
        var counts = new int[NumClasses];
        foreach (var e in Split(split)) counts[e.Label]++;
        return counts;
    }

    public override string ToString() =>
        $"{Name}: {NumClasses} classes, train {Train.Count}, dev {Dev.Count}, test {Test.Count}";

    internal static IReadOnlyList<TextExample> Take(IReadOnlyList<TextExample> items, int? max, int seed)
    {
        if (max is not { } m || m >= items.Count) return items;
        if (m < 0) throw new MlpKitException($"subsample size {m} must not be negative");
        var order = Enumerable.Range(0, items.Count).ToArray();
        new Random(seed).Shuffle(order);
        return order.Take(m).Order().Select(i => items[i]).ToArray();
    }
}

public enum DataSplit { Train, Dev, Test }
