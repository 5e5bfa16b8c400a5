namespace MlpKit.Data;

/// <summary>
/// A labelled text task with fixed train/dev/test splits, whatever the label is: a class
/// (<see cref="TextClassificationTask"/>) or a number (<see cref="TextRegressionTask"/>).
/// </summary>
public interface ITextTask
{
    string Name { get; }
    IReadOnlyList<TextExample> Train { get; }
    IReadOnlyList<TextExample> Dev { get; }
    IReadOnlyList<TextExample> Test { get; }

    /// <summary>A smaller copy drawn by a seeded shuffle; a null limit keeps the split whole.</summary>
    ITextTask Subsample(int? maxTrain, int? maxDev = null, int? maxTest = null, int seed = 0);
}
