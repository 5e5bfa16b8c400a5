namespace MlpKit.Data;

/// <summary>
/// A text-regression task (GLUE STS-B style) with fixed train/dev/test splits; each example's
/// <see cref="TextExample.Target"/> is the value to predict.
/// </summary>
public sealed record TextRegressionTask(
    string Name,
    IReadOnlyList<TextExample> Train,
    IReadOnlyList<TextExample> Dev,
    IReadOnlyList<TextExample> Test) : ITextTask
{
    /// <summary>A smaller copy drawn by the same seeded shuffle as <see cref="TextClassificationTask.Subsample"/>.</summary>
    public TextRegressionTask Subsample(int? maxTrain, int? maxDev = null, int? maxTest = null, int seed = 0) =>
        this with
        {
            Train = TextClassificationTask.Take(Train, maxTrain, seed),
            Dev = TextClassificationTask.Take(Dev, maxDev, seed + 1),
            Test = TextClassificationTask.Take(Test, maxTest, seed + 2),
        };

    ITextTask ITextTask.Subsample(int? maxTrain, int? maxDev, int? maxTest, int seed) => Subsample(maxTrain, maxDev, maxTest, seed);

    public override string ToString() => $"{Name}: regression, train {Train.Count}, dev {Dev.Count}, test {Test.Count}";
}
