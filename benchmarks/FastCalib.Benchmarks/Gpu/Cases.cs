using ILGPU;
using ILGPU.Runtime;

namespace FastCalib.Benchmarks.Gpu;

/// <summary>
/// The GPU benchmark shapes (those of the CPU benchmarks plus the ones of the GPU issue), each built when it is
/// reached so only one case's buffers live at a time. GB/s counts the bytes an operation must read and write once.
/// </summary>
public static class Cases
{
    private const float Temperature = 1.5f;

    public static IEnumerable<GpuCase> All(Accelerator accelerator, int scale)
    {
        long Rows(long rows) => Math.Max(1, rows / scale);

        yield return DeviceCopy(accelerator, (1L << 28) / scale);
        yield return Float4Copy(accelerator, (1L << 28) / scale);

        foreach (var (rows, cols) in new[] { (1_000_000L, 10), (100_000L, 1000), (25_000L, 4096), (256L, 131072) })
            yield return Softmax(accelerator, "softmax(x / T)", Rows(rows), cols,
                (s, z, p, c) => FastCalib.Softmax.Forward(s, z, p, c, Temperature));
        yield return Softmax(accelerator, "log-softmax(x / T)", Rows(100_000), 1000,
            (s, z, p, c) => FastCalib.Softmax.LogForward(s, z, p, c, Temperature));
        yield return Top1(accelerator, Rows(1_000_000), 10);
        yield return Top1(accelerator, Rows(100_000), 1000);
        yield return Backward(accelerator, Rows(100_000), 1000);

        yield return Entropy(accelerator, fromLogits: false, Rows(1_000_000), 100);
        yield return Entropy(accelerator, fromLogits: true, Rows(1_000_000), 100);
        yield return Mixup(accelerator, Rows(16_384), 4096);
        yield return Calibration(accelerator, fromLogits: false, Rows(10_000_000), 10);
        yield return Calibration(accelerator, fromLogits: true, Rows(10_000_000), 10);
        yield return TemperatureFit(accelerator, Rows(1_000_000), 10);
        yield return TemperatureFit(accelerator, Rows(100_000), 1000);
        yield return AffineFit(accelerator, "vector scaling fit", Rows(1_000_000), 10);
        yield return AffineFit(accelerator, "Dirichlet fit, ODIR 0.01", Rows(1_000_000), 10);
        yield return BetaFit(accelerator, Rows(10_000_000));

        foreach (var (n, h, w) in new[] { (65_536L, 28, 28), (16_384L, 64, 64), (20_000L, 28, 28), (5_000L, 64, 64) })
            foreach (bool half in new[] { false, true })
                yield return Fourier(accelerator, Rows(n), h, w, half);
    }

    private static GpuCase DeviceCopy(Accelerator accelerator, long length)
    {
        var a = accelerator.Allocate1D<float>(length);
        var b = accelerator.Allocate1D<float>(length);
        a.MemSetToZero();
        return new GpuCase("device copy (cuMemcpy)", $"{length * 4 >> 20} MiB", 8.0 * length, 1,
            (s, _) => a.View.CopyTo(s, b.View), [a, b]) { IsCopyFloor = true };
    }

    private static GpuCase Float4Copy(Accelerator accelerator, long length)
    {
        var a = accelerator.Allocate1D<float>(length);
        var b = accelerator.Allocate1D<float>(length);
        a.MemSetToZero();
        var kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<Float4>, ArrayView<Float4>>(CopyKernel);
        var from = ((ArrayView<float>)a.View).Cast<Float4>();
        var to = ((ArrayView<float>)b.View).Cast<Float4>();
        return new GpuCase("copy kernel, 128-bit loads", $"{length * 4 >> 20} MiB", 8.0 * length, 1,
            (s, _) => kernel(s, (int)from.Length, from, to), [a, b]) { IsCopyFloor = true };
    }

    private static void CopyKernel(Index1D i, ArrayView<Float4> from, ArrayView<Float4> to) => to[i] = from[i];

    private static GpuCase Softmax(Accelerator accelerator, string name, long rows, int cols, Action<AcceleratorStream, ArrayView<float>, ArrayView<float>, int> op)
    {
        long n = rows * cols;
        int sets = GpuReport.SetsFor(8 * n);
        var owned = new List<IDisposable>();
        var z = Sets(accelerator, owned, sets, n, Logits);
        var p = Sets(accelerator, owned, sets, n, null);
        return new GpuCase(name, $"{rows} x {cols}", 8.0 * n, sets, (s, k) => op(s, z[k], p[k], cols), owned);
    }

    private static GpuCase Top1(Accelerator accelerator, long rows, int cols)
    {
        long n = rows * cols;
        int sets = GpuReport.SetsFor(4 * n);
        var owned = new List<IDisposable>();
        var z = Sets(accelerator, owned, sets, n, Logits);
        var confidence = Own(owned, accelerator.Allocate1D<float>(rows));
        var predicted = Own(owned, accelerator.Allocate1D<int>(rows));
        return new GpuCase("top-1 of softmax(x / T)", $"{rows} x {cols}", 4.0 * n + 8.0 * rows, sets,
            (s, k) => FastCalib.Softmax.Top1(s, z[k], confidence.View, predicted.View, cols, Temperature), owned);
    }

    private static GpuCase Backward(Accelerator accelerator, long rows, int cols)
    {
        long n = rows * cols;
        var owned = new List<IDisposable>();
        var z = Sets(accelerator, owned, 1, n, Logits)[0];
        var p = Own(owned, accelerator.Allocate1D<float>(n)).View;
        var g = Sets(accelerator, owned, 1, n, Logits)[0];
        var dz = Own(owned, accelerator.Allocate1D<float>(n)).View;
        FastCalib.Softmax.Forward(accelerator.DefaultStream, z, p, cols, Temperature);
        return new GpuCase("softmax backward", $"{rows} x {cols}", 12.0 * n, 1,
            (s, _) => FastCalib.Softmax.Backward(s, p, g, dz, cols, Temperature), owned);
    }

    private static GpuCase Entropy(Accelerator accelerator, bool fromLogits, long rows, int cols)
    {
        long n = rows * cols;
        int sets = GpuReport.SetsFor(4 * n);
        var owned = new List<IDisposable>();
        var x = Sets(accelerator, owned, sets, n, Logits);
        if (!fromLogits)
            foreach (var view in x) FastCalib.Softmax.Forward(accelerator.DefaultStream, view, view, cols);
        var h = Own(owned, accelerator.Allocate1D<float>(rows)).View;
        var total = Own(owned, accelerator.Allocate1D<double>(1)).View;
        return new GpuCase(fromLogits ? "entropy from logits" : "entropy from probabilities", $"{rows} x {cols}", 4.0 * n + 4.0 * rows, sets,
            fromLogits
                ? (s, k) => FastCalib.Entropy.FromLogits(s, x[k], h, total, cols, Temperature)
                : (s, k) => FastCalib.Entropy.FromProbabilities(s, x[k], h, total, cols),
            owned);
    }

    private static GpuCase Mixup(Accelerator accelerator, long rows, int features)
    {
        long n = rows * features;
        var owned = new List<IDisposable>();
        var x = Sets(accelerator, owned, 1, n, Logits)[0];
        var y = Own(owned, accelerator.Allocate1D<float>(n)).View;
        var plan = Own(owned, MixupPlan.Create((int)rows, 0.4f, 7, MixupLambda.PerSample).Upload(accelerator));
        return new GpuCase("mixup blend", $"{rows} x {features}", 12.0 * n, 1,
            (s, _) => FastCalib.Mixup.Blend(s, x, y, features, plan), owned);
    }

    private static GpuCase Calibration(Accelerator accelerator, bool fromLogits, long rows, int cols)
    {
        long n = rows * cols;
        var owned = new List<IDisposable>();
        var x = Sets(accelerator, owned, 1, n, Logits)[0];
        if (!fromLogits) FastCalib.Softmax.Forward(accelerator.DefaultStream, x, x, cols);
        var labels = Own(owned, accelerator.Allocate1D(Labels(rows, cols))).View;
        return new GpuCase(fromLogits ? "calibration report from logits (15 bins)" : "calibration report from probabilities (15 bins)",
            $"{rows} x {cols}", 4.0 * n + 4.0 * rows, 1, (s, _) =>
            {
                var accumulator = new CalibrationAccumulator(15);
                if (fromLogits) accumulator.AddLogits(s, x, labels, cols, Temperature);
                else accumulator.AddProbabilities(s, x, labels, cols);
            }, owned);
    }

    private static GpuCase TemperatureFit(Accelerator accelerator, long rows, int cols)
    {
        long n = rows * cols;
        var owned = new List<IDisposable>();
        var y = Labels(rows, cols);
        var z = Sets(accelerator, owned, 1, n, _ => OverconfidentLogits(y, cols))[0];
        var labels = Own(owned, accelerator.Allocate1D(y)).View;
        int passes = TemperatureScaling.Fit(accelerator.DefaultStream, z, labels, cols).Passes;
        return new GpuCase($"temperature fit ({passes} passes; GB/s per pass)", $"{rows} x {cols}", passes * (4.0 * n + 4.0 * rows), 1,
            (s, _) => TemperatureScaling.Fit(s, z, labels, cols), owned);
    }

    /// <summary>A vector-scaling or Dirichlet fit on device views: every pass one device kernel and a column sum (GB/s per pass).</summary>
    private static GpuCase AffineFit(Accelerator accelerator, string name, long rows, int cols)
    {
        long n = rows * cols;
        var owned = new List<IDisposable>();
        var y = Labels(rows, cols);
        var z = Sets(accelerator, owned, 1, n, _ => OverconfidentLogits(y, cols))[0];
        var labels = Own(owned, accelerator.Allocate1D(y)).View;
        bool vector = name.StartsWith("vector");
        int Fit(AcceleratorStream s) => vector
            ? VectorScalingCalibrator.Fit(s, z, labels, cols).Passes
            : DirichletCalibrator.Fit(s, z, labels, cols, new OdirPenalty(0.01, 0.01)).Passes;
        int passes = Fit(accelerator.DefaultStream);
        return new GpuCase($"{name} ({passes} passes; GB/s per pass)", $"{rows} x {cols}", passes * (4.0 * n + 4.0 * rows), 1, (s, _) => Fit(s), owned);
    }

    /// <summary>Beta calibration on device views of scores and 0/1 targets: every Newton step one pass of one kernel (GB/s per pass).</summary>
    private static GpuCase BetaFit(Accelerator accelerator, long count)
    {
        var owned = new List<IDisposable>();
        var random = new Random(5);
        var scores = new float[count];
        var targets = new int[count];
        for (long i = 0; i < count; i++)
        {
            scores[i] = (float)(0.001 + 0.998 * random.NextDouble());
            double logit = -0.2 + 1.3 * Math.Log(scores[i]) - 0.6 * Math.Log(1 - scores[i]);
            targets[i] = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
        }
        var s0 = Own(owned, accelerator.Allocate1D(scores)).View;
        var t0 = Own(owned, accelerator.Allocate1D(targets)).View;
        BetaCalibrator.Fit(accelerator.DefaultStream, s0, t0);
        return new GpuCase("beta calibration fit (GB/s of one read of the scores and targets)", $"{count}", 8.0 * count, 1,
            (s, _) => BetaCalibrator.Fit(s, s0, t0), owned);
    }

    private static GpuCase Fourier(Accelerator accelerator, long images, int h, int w, bool half)
    {
        var options = new FourierFeatureOptions { Shift = !half, Log1p = true, HalfSpectrum = half };
        long pixels = images * h * w;
        long outputs = FourierFeatures.OutputLength(images, h, w, half);
        int sets = GpuReport.SetsFor(4 * (pixels + outputs));
        var owned = new List<IDisposable>();
        var x = Sets(accelerator, owned, sets, pixels, Logits);
        var m = Sets(accelerator, owned, sets, outputs, null);
        return new GpuCase(half ? "\\|FFT2\\| half spectrum, log1p" : "\\|FFT2\\| full, fftshift + log1p", $"{images} x {h} x {w}",
            4.0 * (pixels + outputs), sets, (s, k) => FourierFeatures.Magnitude(s, x[k], m[k], h, w, options), owned);
    }

    private static T Own<T>(List<IDisposable> owned, T buffer) where T : IDisposable
    {
        owned.Add(buffer);
        return buffer;
    }

    /// <summary>Buffer sets of one length; the first is filled from the host and copied into the others on the device.</summary>
    private static ArrayView<float>[] Sets(Accelerator accelerator, List<IDisposable> owned, int sets, long length, Func<long, float[]>? fill)
    {
        var views = new ArrayView<float>[sets];
        for (int k = 0; k < sets; k++)
        {
            var buffer = Own(owned, accelerator.Allocate1D<float>(length));
            views[k] = buffer.View;
            if (fill is null) buffer.MemSetToZero();
            else if (k == 0) buffer.CopyFromCPU(fill(length));
            else views[0].CopyTo(accelerator.DefaultStream, views[k]);
        }
        accelerator.Synchronize();
        return views;
    }

    private static float[] Logits(long length)
    {
        var random = new Random(42);
        var values = new float[length];
        for (long i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 24 - 12);
        return values;
    }

    /// <summary>3 · (2 · onehot(label) + N(0, 1)), as in the CPU temperature benchmark (T* about 1.5).</summary>
    private static float[] OverconfidentLogits(int[] labels, int cols)
    {
        var random = new Random(11);
        var z = new float[(long)labels.Length * cols];
        for (long i = 0; i < z.Length; i++)
        {
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            double normal = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            z[i] = (float)(3 * ((labels[i / cols] == i % cols ? 2 : 0) + normal));
        }
        return z;
    }

    private static int[] Labels(long rows, int cols)
    {
        var random = new Random(5);
        var labels = new int[rows];
        for (long i = 0; i < rows; i++) labels[i] = random.Next(cols);
        return labels;
    }
}

/// <summary>Four floats, so a float buffer viewed as Float4 is read and written with 128-bit accesses.</summary>
public struct Float4
{
    public float X, Y, Z, W;
}
