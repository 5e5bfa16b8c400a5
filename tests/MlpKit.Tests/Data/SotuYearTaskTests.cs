using MlpKit.Data;
using MlpKit.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MlpKit.Tests.Data;

public class SotuYearTaskTests(ITestOutputHelper output)
{
    static string Words(string first, int n) => string.Join(' ', new[] { first }.Concat(Enumerable.Repeat("w", n - 1)));

    [Fact]
    public void Passages_join_sentences_to_at_least_forty_words_and_cut_at_one_hundred_fifty()
    {
        // 25 + 20 words reach 40: one passage; 30 + 10 reach 40 again: a second.
        var text = $"{Words("Alpha", 25)}. {Words("Beta", 20)}! {Words("Gamma", 30)}? \"{Words("Delta", 10)}.\"";
        var p = SotuYearTask.Passages(text);
        Assert.Equal(2, p.Count);
        Assert.Equal(45, p[0].Split(' ').Length);
        Assert.StartsWith("Alpha", p[0]);
        Assert.StartsWith("Gamma", p[1]);
        Assert.EndsWith("w.\"", p[1]);   // the closing quote stays with its sentence
        // A short remainder joins the passage before it; a lower-case word after a full stop is no sentence start.
        p = SotuYearTask.Passages($"{Words("Alpha", 25)}. {Words("Beta", 20)}. {Words("Mr", 3)}. smith w.");
        Assert.Single(p);
        Assert.Equal(50, p[0].Split(' ').Length);
        Assert.Equal(150, SotuYearTask.Passages(Words("Long", 200) + ".")[0].Split(' ').Length);
    }

    [Fact]
    public void Sample_corpus_gives_one_passage_per_speech_with_the_year_standardised_on_train()
    {
        // Train years 1790 and 1801: mean 1795.5, population std 5.5; 1798 is dev, 1799 test.
        var task = SotuYearTask.LoadTask(TestPaths.Fixture("Data", "sotu"));
        Assert.Equal(SotuYearTask.TaskName, task.Name);
        Assert.Equal([-1.0, 1.0], task.Train.Select(e => Math.Round(e.Target, 12)));
        Assert.Equal(2.5 / 5.5, Assert.Single(task.Dev).Target, 12);
        Assert.Equal(3.5 / 5.5, Assert.Single(task.Test).Target, 12);
        Assert.Equal("It is with peculiar satisfaction that I meet the Sixth Congress.", task.Test[0].Text);
        Assert.Equal((1795.5, 5.5), SotuYearTask.YearScale(TestPaths.Fixture("Data", "sotu")));
        Assert.True(BuiltInTasks.IsRegression("sotu-year"));
        Assert.IsType<TextRegressionTask>(BuiltInTasks.LoadAny("sotu-year", TestPaths.Fixture("Data", "sotu")));
        Assert.Contains("regression", Assert.Throws<MlpKitException>(() => BuiltInTasks.Load("sotu-year", TestPaths.Fixture("Data", "sotu"))).Message);
    }

    [AssetFact("sotu")]
    public void Real_sotu_year_task_has_fixed_split_sizes_split_by_speech_year()
    {
        var dir = TestPaths.Asset("sotu");
        var task = SotuYearTask.LoadTask(dir);
        var (mean, std) = SotuYearTask.YearScale(dir);
        output.WriteLine($"{task}; year mean {mean:F2}, std {std:F2}");
        Assert.Equal((2989, 368, 368), (task.Train.Count, task.Dev.Count, task.Test.Count));
        Assert.Equal(0, task.Train.Average(e => e.Target), 9);
        Assert.Equal(1, Math.Sqrt(task.Train.Average(e => e.Target * e.Target)), 9);
        int Year(TextExample e) => (int)Math.Round(e.Target * std + mean);
        Assert.All(task.Dev, e => Assert.Equal(8, Year(e) % 10));
        Assert.All(task.Test, e => Assert.Equal(9, Year(e) % 10));
        Assert.All(task.Train, e => Assert.True(Year(e) % 10 < 8));
        Assert.InRange(task.Train.Min(Year), 1790, 1791);
        Assert.All(task.Train, e => Assert.InRange(e.Text.Split(' ').Length, SotuYearTask.MinWords, SotuYearTask.MaxWords));
    }
}
