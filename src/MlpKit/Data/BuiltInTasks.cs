namespace MlpKit.Data;

/// <summary>
/// The tasks built from the assets, by name (`--task spam|wordnet45|sotu-year`): classification tasks and
/// regression tasks. Loading fetches the asset when absent.
/// </summary>
public static class BuiltInTasks
{
    static readonly Dictionary<string, (string Description, Func<string?, TextClassificationTask> Load)> Tasks = new()
    {
        [SpamAssassinCorpus.TaskName] = ("SpamAssassin e-mails, ham vs spam (2 classes)", SpamAssassinCorpus.LoadTask),
        [WordNetGlosses.TaskName] = ("WordNet 3.0 gloss -> lexicographer file (45 classes)", WordNetGlosses.LoadTask),
    };

    static readonly Dictionary<string, (string Description, Func<string?, TextRegressionTask> Load)> RegressionTasks = new()
    {
        [SotuYearTask.TaskName] = ($"State of the Union passage -> year, standardised (regression; {SotuYearTask.PassagesPerSpeech} passages per speech, split by year)", SotuYearTask.LoadTask),
    };

    /// <summary>Every built-in task, classification first.</summary>
    public static IReadOnlyCollection<string> Names => [.. Tasks.Keys, .. RegressionTasks.Keys];

    public static bool IsBuiltIn(string name) => Tasks.ContainsKey(name) || RegressionTasks.ContainsKey(name);

    public static bool IsRegression(string name) => RegressionTasks.ContainsKey(name);

    public static string Describe(string name) => Tasks.TryGetValue(name, out var t) ? t.Description : RegressionTasks[name].Description;

    /// <summary>Loads a built-in classification task; <paramref name="assetDir"/> overrides the asset folder (tests).</summary>
    public static TextClassificationTask Load(string name, string? assetDir = null) =>
        Tasks.TryGetValue(name, out var task) ? task.Load(assetDir)
        : RegressionTasks.ContainsKey(name) ? throw new MlpKitException($"task '{name}' is a regression task (numeric targets), not a classification task")
        : throw Unknown(name);

    /// <summary>Loads any built-in task, classification or regression.</summary>
    public static ITextTask LoadAny(string name, string? assetDir = null) =>
        Tasks.TryGetValue(name, out var task) ? task.Load(assetDir)
        : RegressionTasks.TryGetValue(name, out var reg) ? reg.Load(assetDir)
        : throw Unknown(name);

    static MlpKitException Unknown(string name) =>
        new($"unknown task '{name}'; built-in tasks: {string.Join(", ", Names)} (or give a TSV/CSV/JSONL file)");
}
