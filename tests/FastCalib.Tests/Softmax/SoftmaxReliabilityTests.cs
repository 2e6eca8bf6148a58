using Xunit;

namespace FastCalib.Tests.Softmax;

using Softmax = FastCalib.Softmax;

/// <summary>Thread safety, independence from the thread count, and 64-bit row offsets.</summary>
public class SoftmaxReliabilityTests
{
    /// <summary>Many callers at once on every backend (sharing the GPU kernel cache and accelerators) get the sequential results.</summary>
    [Fact]
    public void Parallel_callers_get_the_sequential_results()
    {
        var cases = new[] { new SoftmaxCase(50, 10, 3, 0.8f, 1, false), new SoftmaxCase(9, 300, 10, 2f, 2, false), new SoftmaxCase(3, 70, 1, 1f, 3, true) };
        var paths = Paths.All.Select(p => p with { Options = p.Options with { MaxThreads = 0 } })
            .Append(new KernelPath("default-gpu", ComputeOptions.For(Backend.Gpu))).ToArray();
        var expected = new Dictionary<(int, int), float[]>();
        for (int pi = 0; pi < paths.Length; pi++)
            for (int ci = 0; ci < cases.Length; ci++)
                expected[(pi, ci)] = Run(paths[pi], cases[ci]);

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 96, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            int pi = i % paths.Length, ci = i / paths.Length % cases.Length;
            var actual = Run(paths[pi], cases[ci]);
            if (!actual.AsSpan().SequenceEqual(expected[(pi, ci)])) failures.Add($"{paths[pi]} {cases[ci]}");
        });
        Assert.Empty(failures);
    }

    private static float[] Run(KernelPath path, SoftmaxCase c)
    {
        var z = c.Logits();
        var p = new float[z.Length];
        var conf = new float[c.Rows];
        var k = new int[c.Rows];
        Softmax.Forward(z, p, c.Cols, c.Temperature, path.Options);
        Softmax.Top1(z, conf, k, c.Cols, c.Temperature, path.Options);
        return p.Concat(conf).Concat(k.Select(v => (float)v)).ToArray();
    }

    /// <summary>Chunks never depend on the thread count, and totals are added in chunk order: same bits with 1, 2 or all threads.</summary>
    [Theory]
    [InlineData(Backend.Simd)]
    [InlineData(Backend.Scalar)]
    public void Results_do_not_depend_on_the_thread_count(Backend backend)
    {
        var c = new SoftmaxCase(20_000, 17, 2, 1.3f, 5, false);   // many chunks
        var z = c.Logits();
        var g = c.Gradient();
        var p = SoftmaxPropertyTests.ReferenceProbabilities(z, c);
        float[]? first = null;
        double? firstT = null;
        foreach (int threads in new[] { 1, 2, 0 })
        {
            var dz = new float[z.Length];
            double dT = Softmax.BackwardWithTemperature(z, p, g, dz, c.Cols, c.Temperature, new ComputeOptions { Backend = backend, MaxThreads = threads });
            first ??= dz;
            firstT ??= dT;
            Assert.Equal(first, dz);
            Assert.Equal(firstT.Value, dT);
        }
    }

    /// <summary>
    /// Row offsets past 2^31 elements: the generated CPU code computes row * cols in 64 bits. The rows are placed at
    /// a huge logical row index by handing the kernel a base pointer that far before the data; 32-bit index arithmetic
    /// would wrap and read or write elsewhere.
    /// </summary>
    [Theory]
    [InlineData(10)]
    [InlineData(1000)]
    public unsafe void Row_offsets_beyond_two_to_the_31_are_64_bit(int cols)
    {
        var c = new SoftmaxCase(40, cols, 3, 0.9f, 9, false);
        var z = c.Logits();
        long start = (1L << 32) / cols + 3;   // first row index whose offset exceeds 2^32
        Assert.True(start * cols > uint.MaxValue);
        float invT = 1f / c.Temperature;
        foreach (int width in new[] { 0, 128, 256, 512 })
        {
            var options = width == 0
                ? new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 }
                : new ComputeOptions { VectorWidth = width, MaxThreads = 1 };
            var expected = new float[z.Length];
            Softmax.Forward(z, expected, cols, c.Temperature, options);
            var p = new float[z.Length];
            fixed (float* pz = z, pp = p)
            {
                var range = new Kernels.Internals.RowRange(start, start + c.Rows);
                float* zBase = pz - start * cols, pBase = pp - start * cols;
                if (width == 0) SoftmaxKernels.ForwardKernel.Scalar(range, cols, zBase, pBase, invT);
                else SoftmaxKernels.ForwardKernel.Simd(range, width, cols, zBase, pBase, invT);
            }
            Assert.Equal(expected, p);
        }
    }
}
