namespace FastCalib.Tests.Calibration;

/// <summary>
/// Float64 reference for binned calibration errors, written from the tools' own definitions (not from the library):
/// bins are found by scanning the edges e_k = k / n (float32) the way each tool states it, and every statistic is a
/// plain float64 sum.
/// </summary>
public static class CalibrationReference
{
    public static float Edge(int k, int n) => (float)((double)k / n);

    /// <summary>The bin of c, or -1 for none, by each tool's definition.</summary>
    public static int Bin(float c, int n, BinningRule rule)
    {
        switch (rule)
        {
            case BinningRule.TorchMetrics:
            case BinningRule.ClosedLastBin:
            {
                // bucketize(c, edges, right=True) - 1: the index of the first edge greater than c, minus one
                int first = n + 1;
                for (int k = 0; k <= n; k++)
                    if (Edge(k, n) > c) { first = k; break; }
                int bin = first - 1;
                return rule == BinningRule.ClosedLastBin ? Math.Min(bin, n - 1) : bin;
            }
            default:
            {
                // searchsorted(inner edges, c, side='left'): how many inner edges are below c; bins (e_k, e_k+1]
                if (rule == BinningRule.GuoReference && c == 0) return -1;
                int below = 0;
                for (int k = 1; k < n; k++)
                    if (Edge(k, n) < c) below++;
                return below;
            }
        }
    }

    public sealed record Result(double Ece, double Rmsce, double Mce, long[] Counts, double[] Confidence, double[] Accuracy, double AccuracyAll, double MeanConfidence);

    public static Result Compute(float[] confidence, bool[] correct, int n, BinningRule rule)
    {
        int slots = rule == BinningRule.TorchMetrics ? n + 1 : n;
        var counts = new long[slots];
        var sumConfidence = new double[slots];
        var sumCorrect = new double[slots];
        for (int i = 0; i < confidence.Length; i++)
        {
            int b = Bin(confidence[i], n, rule);
            if (b < 0) continue;
            counts[b]++;
            sumConfidence[b] += confidence[i];
            sumCorrect[b] += correct[i] ? 1 : 0;
        }
        double total = confidence.Length, ece = 0, squares = 0, mce = 0;
        var conf = new double[slots];
        var acc = new double[slots];
        for (int b = 0; b < slots; b++)
        {
            conf[b] = counts[b] == 0 ? double.NaN : sumConfidence[b] / counts[b];
            acc[b] = counts[b] == 0 ? double.NaN : sumCorrect[b] / counts[b];
            if (counts[b] == 0) continue;
            double gap = Math.Abs(acc[b] - conf[b]);
            ece += counts[b] / total * gap;
            squares += counts[b] / total * gap * gap;
            mce = Math.Max(mce, gap);
        }
        return new Result(ece, Math.Sqrt(squares), mce, counts, conf, acc,
            correct.Count(c => c) / total, confidence.Select(c => (double)c).Sum() / total);
    }

    /// <summary>Top-label confidence, correctness, NLL and Brier of probability rows, in float64.</summary>
    public static (float[] Confidence, bool[] Correct, double Nll, double Brier) FromProbabilities(float[] p, int[] labels, int cols)
    {
        int rows = labels.Length;
        var confidence = new float[rows];
        var correct = new bool[rows];
        double nll = 0, brier = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = p.AsSpan(r * cols, cols);
            int arg = Reference.ArgMax(row);
            confidence[r] = row[arg];
            correct[r] = arg == labels[r];
            nll -= Math.Log(row[labels[r]]);
            for (int j = 0; j < cols; j++) brier += Math.Pow(row[j] - (j == labels[r] ? 1.0 : 0.0), 2);
        }
        return (confidence, correct, nll / rows, brier / rows);
    }

    /// <summary>The same from logits and a temperature, through the float64 softmax reference.</summary>
    public static (double[] Confidence, bool[] Correct, double Nll, double Brier) FromLogits(float[] z, int[] labels, int cols, double temperature)
    {
        int rows = labels.Length;
        var confidence = new double[rows];
        var correct = new bool[rows];
        double nll = 0, brier = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = z.AsSpan(r * cols, cols);
            var logp = Reference.LogSoftmax(row, temperature);
            int arg = Reference.ArgMax(row);
            confidence[r] = Math.Exp(logp[arg]);
            correct[r] = arg == labels[r];
            nll -= logp[labels[r]];
            for (int j = 0; j < cols; j++) brier += Math.Pow(Math.Exp(logp[j]) - (j == labels[r] ? 1.0 : 0.0), 2);
        }
        return (confidence, correct, nll / rows, brier / rows);
    }
}
