namespace MlpKit.Data;

/// <summary>
/// The built-in text for calibration and held-out evaluation when the user gives none: sentences of the State
/// of the Union corpus (the `sotu` asset) of 6 to 60 words, in a seeded random order. Calibration sentences
/// come from the training speeches, held-out ones from the test speeches (other years, other presidents), so
/// a metric on the held-out set is not measured on the text the compression saw.
/// </summary>
public static class CalibrationText
{
    public const string Description = "State of the Union sentences (sotu asset; training speeches for calibration, test speeches held out)";

    public static List<string> Sentences(DataSplit split, int count, long seed = 0)
    {
        var all = SotuCorpus.Load(split)
            .SelectMany(s => SotuYearTask.Sentences(s.Text))
            .Select(s => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)))
            .Where(s => s.Split(' ').Length is >= 6 and <= 60)
            .ToList();
        var rng = new Random((int)(seed & 0x7FFFFFFF) ^ 0x51ed);
        for (int i = all.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (all[i], all[j]) = (all[j], all[i]);
        }
        return all.Take(count).ToList();
    }
}
