using System.Numerics.Tensors;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>Options of the training demo.</summary>
public sealed record TrainOptions(int Epochs = 6, int Seed = 7)
{
    public static TrainOptions From(Arguments a)
    {
        return new TrainOptions(a.Int("--epochs", 6, 1), a.Int("--seed", 7, 0));
    }
}

/// <summary>
/// The training-loop story: multinomial logistic regression (logits = x·W + b, then divided by a learnable
/// temperature T = e^τ) trained by minibatch SGD on a deterministic synthetic dataset, using FastCalib the way a
/// training loop would: mixup with label-smoothed soft targets (Mixup.Blend, Mixup.MixedCrossEntropy, which fuses the
/// softmax and returns dL/du for u = z / T), the confidence penalty on the same softmax (Entropy.ConfidencePenalty),
/// the chain rule through u = z / T for the gradients of W, b and τ, and after each epoch a calibration monitor (CalibrationMonitor) on
/// held-out data (CalibrationAccumulator.AddLogits at the current T).
/// </summary>
public static class DemoTrain
{
    private const int Features = 20, Classes = 5, TrainRows = 20_000, ValidationRows = 5_000, Batch = 256;
    private const float Alpha = 0.4f, Smoothing = 0.1f, PenaltyWeight = 0.05f, LearningRate = 0.5f, TemperatureRate = 0.05f;

    public static int Run(TrainOptions o, TextWriter output)
    {
        var random = new Random(o.Seed);
        var means = new float[Classes * Features];
        for (int i = 0; i < means.Length; i++) means[i] = (float)(1.2 * Normal(random));
        var (xTrain, yTrain) = Sample(random, means, TrainRows);
        var (xValidation, yValidation) = Sample(random, means, ValidationRows);

        var weights = new float[Classes * Features];   // one row of features per class
        var bias = new float[Classes];
        float tau = 0;                                  // log T
        var x = new float[Batch * Features];
        var mixed = new float[Batch * Features];
        var labels = new int[Batch];
        var z = new float[Batch * Classes];
        var u = new float[Batch * Classes];
        var gradU = new float[Batch * Classes];
        var gradPenalty = new float[Batch * Classes];
        var order = Enumerable.Range(0, TrainRows).ToArray();

        output.WriteLine($"training multinomial logistic regression ({Features} features, {Classes} classes, {TrainRows} samples) with mixup (alpha {Alpha}), label smoothing {Smoothing}, confidence penalty {PenaltyWeight} and a learnable temperature");
        output.WriteLine("epoch   loss  temperature  accuracy  mean conf     ECE     NLL");
        var monitor = new CalibrationMonitor(bins: 15, tolerance: 0.05, levels: [0.8f, 0.9f]);
        int step = 0;
        for (int epoch = 1; epoch <= o.Epochs; epoch++)
        {
            random.Shuffle(order);
            double lossSum = 0;
            int batches = 0;
            for (int start = 0; start + Batch <= TrainRows; start += Batch, step++)
            {
                for (int i = 0; i < Batch; i++)
                {
                    xTrain.AsSpan(order[start + i] * Features, Features).CopyTo(x.AsSpan(i * Features, Features));
                    labels[i] = yTrain[order[start + i]];
                }
                var plan = MixupPlan.Create(Batch, Alpha, o.Seed * 100_003 + step);
                Mixup.Blend(x, mixed, Features, plan);
                Logits(mixed, weights, bias, z, Batch);
                float temperature = MathF.Exp(tau);
                TensorPrimitives.Divide(z, temperature, u);
                // dL/du from the mixup loss and from the confidence penalty, both on softmax(u)
                lossSum += Mixup.MixedCrossEntropy(u, labels, gradU, Classes, plan, Smoothing);
                lossSum += Entropy.ConfidencePenalty(u, gradPenalty, Classes, PenaltyWeight);
                TensorPrimitives.Add(gradU, gradPenalty, gradU);
                // u = z / T: dL/dz = dL/du / T, dL/dT = −Σ dL/du · z / T², dL/dτ = T · dL/dT
                float gradTau = -TensorPrimitives.Dot(gradU, z) / temperature;
                TensorPrimitives.Divide(gradU, temperature, gradU);
                for (int i = 0; i < Batch; i++)
                    for (int c = 0; c < Classes; c++)
                    {
                        float g = gradU[i * Classes + c];
                        TensorPrimitives.MultiplyAdd(mixed.AsSpan(i * Features, Features), -LearningRate * g, weights.AsSpan(c * Features, Features), weights.AsSpan(c * Features, Features));
                        bias[c] -= LearningRate * g;
                    }
                tau -= TemperatureRate * gradTau;
                batches++;
            }

            // calibration monitor on held-out data at the current temperature
            var zValidation = new float[ValidationRows * Classes];
            Logits(xValidation, weights, bias, zValidation, ValidationRows);
            var r = monitor.Observe(zValidation, yValidation, Classes, MathF.Exp(tau));
            output.WriteLine($"{epoch,5}  {lossSum / batches,5:F3}  {MathF.Exp(tau),11:F3}  {r.Accuracy,8:F4}  {r.MeanConfidence,9:F4}  {r.Ece,6:F4}  {r.NegativeLogLikelihood,6:F4}"
                + (r.Overconfident ? $"  warning: overconfident (mean confidence exceeds accuracy by {r.Gap:F4}, more than {monitor.Tolerance}{(r.Level > 0 ? $"; at or above {monitor.Levels[r.Level - 1]}" : "")})" : ""));
        }
        // mixup and label smoothing train towards soft targets, which leaves the model underconfident on clean data
        // (Thulasidasan et al. 2019; Müller et al. 2019): a temperature fitted after training on held-out data fixes it
        var zHeldOut = new float[ValidationRows * Classes];
        Logits(xValidation, weights, bias, zHeldOut, ValidationRows);
        var fit = TemperatureScaling.Fit(zHeldOut, yValidation, Classes);
        var comparison = CalibrationEvaluation.Temperature(zHeldOut, yValidation, Classes, fit.Temperature);
        output.WriteLine($"post-hoc temperature on held-out data: T* = {fit.Temperature:F3} (logits); ECE {comparison.Before!.Ece:F4} -> {comparison.After.Ece:F4}, "
            + $"mean confidence {comparison.Before.MeanConfidence:F4} -> {comparison.After.MeanConfidence:F4} at accuracy {comparison.After.Accuracy:F4}");
        return 0;
    }

    /// <summary>z[i, c] = x_i · W_c + b_c.</summary>
    private static void Logits(float[] x, float[] weights, float[] bias, float[] z, int rows)
    {
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < Classes; c++)
                z[i * Classes + c] = TensorPrimitives.Dot(x.AsSpan(i * Features, Features), weights.AsSpan(c * Features, Features)) + bias[c];
    }

    /// <summary>Samples x = mean[y] + N(0, 1.3²) with y uniform.</summary>
    private static (float[] X, int[] Y) Sample(Random random, float[] means, int rows)
    {
        var x = new float[rows * Features];
        var y = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            y[i] = random.Next(Classes);
            for (int j = 0; j < Features; j++) x[i * Features + j] = means[y[i] * Features + j] + (float)(1.3 * Normal(random));
        }
        return (x, y);
    }

    private static double Normal(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
