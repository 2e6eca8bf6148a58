using FastCalib.Kernels.Internals;
using System.Text.RegularExpressions;
using System.Reflection;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using FastCalib.Kernels;
using Xunit;

namespace FastCalib.Tests.Backends;

using Softmax = FastCalib.Softmax;

/// <summary>
/// The ILGPU path beyond host spans: the device-view API, compilation of every generated kernel to PTX (so the CUDA
/// compiler's rules are checked on machines without a GPU), CUDA runs where a device exists, and device errors.
/// </summary>
public class GpuTests
{
    public static IEnumerable<object[]> Accelerators()
    {
        yield return new object[] { "ilgpu-cpu" };
        yield return new object[] { "cuda" };
    }

    private static Accelerator? Get(string name) => Paths.Device(name);

    [SkippableTheory]
    [MemberData(nameof(Accelerators))]
    public void Device_views_match_the_host_api(string name)
    {
        var accelerator = Get(name);
        Skip.If(accelerator is null, Paths.NoCuda);
        var stream = accelerator!.DefaultStream;
        foreach (var c in new[] { new SoftmaxCase(33, 9, 4, 0.6f, 21, false), new SoftmaxCase(5, 700, 4, 1.7f, 22, false) })
        {
            var z = c.Logits();
            var g = c.Gradient();
            var host = new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator };
            var expectedP = new float[z.Length];
            var expectedC = new float[c.Rows];
            var expectedK = new int[c.Rows];
            var expectedDz = new float[z.Length];
            Softmax.Forward(z, expectedP, c.Cols, c.Temperature, host);
            Softmax.Top1(z, expectedC, expectedK, c.Cols, c.Temperature, host);
            double expectedT = Softmax.BackwardWithTemperature(z, expectedP, g, expectedDz, c.Cols, c.Temperature, host);

            using var dz = accelerator.Allocate1D(z);
            using var dp = accelerator.Allocate1D<float>(z.Length);
            using var dg = accelerator.Allocate1D(g);
            using var dgrad = accelerator.Allocate1D<float>(z.Length);
            using var dc = accelerator.Allocate1D<float>(c.Rows);
            using var dk = accelerator.Allocate1D<int>(c.Rows);
            using var dT = accelerator.Allocate1D<double>(1);
            dT.View.CopyFromCPU(new[] { 123.0 });   // overwritten, not added to
            Softmax.Forward(stream, dz.View, dp.View, c.Cols, c.Temperature);
            Softmax.Top1(stream, dz.View, dc.View, dk.View, c.Cols, c.Temperature);
            Softmax.BackwardWithTemperature(stream, dz.View, dp.View, dg.View, dgrad.View, dT.View, c.Cols, c.Temperature);
            stream.Synchronize();
            Assert.Equal(expectedP, dp.GetAsArray1D());
            Assert.Equal(expectedC, dc.GetAsArray1D());
            Assert.Equal(expectedK, dk.GetAsArray1D());
            Assert.Equal(expectedDz, dgrad.GetAsArray1D());
            Assert.Equal(expectedT, dT.GetAsArray1D()[0], Math.Abs(expectedT) * 1e-12 + 1e-12);   // atomic float64 adds in any order

            // the log-softmax pair and the plain backward pass, also against the host API on the same accelerator
            var expectedLp = new float[z.Length];
            Softmax.LogForward(z, expectedLp, c.Cols, c.Temperature, host);
            double expectedLogT = Softmax.LogBackwardWithTemperature(z, expectedLp, g, expectedDz, c.Cols, c.Temperature, host);
            Softmax.LogForward(stream, dz.View, dp.View, c.Cols, c.Temperature);
            Softmax.LogBackwardWithTemperature(stream, dz.View, dp.View, dg.View, dgrad.View, dT.View, c.Cols, c.Temperature);
            stream.Synchronize();
            Assert.Equal(expectedLp, dp.GetAsArray1D());
            Assert.Equal(expectedDz, dgrad.GetAsArray1D());
            Assert.Equal(expectedLogT, dT.GetAsArray1D()[0], Math.Abs(expectedLogT) * 1e-12 + 1e-12);
            Softmax.Forward(z, expectedP, c.Cols, c.Temperature, host);
            Softmax.Backward(expectedP, g, expectedDz, c.Cols, c.Temperature, host);
            Softmax.Forward(stream, dz.View, dp.View, c.Cols, c.Temperature);
            Softmax.Backward(stream, dp.View, dg.View, dgrad.View, c.Cols, c.Temperature);
            stream.Synchronize();
            Assert.Equal(expectedDz, dgrad.GetAsArray1D());
            Softmax.LogBackward(expectedLp, g, expectedDz, c.Cols, c.Temperature, host);
            dp.View.CopyFromCPU(expectedLp);
            Softmax.LogBackward(stream, dp.View, dg.View, dgrad.View, c.Cols, c.Temperature);
            stream.Synchronize();
            Assert.Equal(expectedDz, dgrad.GetAsArray1D());
        }
    }

    /// <summary>
    /// Every generated ILGPU entry point compiles to PTX for sm_80; Exp lowers to the fast ex2 instruction and the
    /// float64 totals stay float64.
    /// </summary>
    [Fact]
    public void Every_generated_kernel_compiles_to_ptx()
    {
        var entries = typeof(Softmax).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static))
            .Where(m => m.GetCustomAttribute<GpuKernelEntryAttribute>() is not null)
            .ToList();
        Assert.True(entries.Count >= 14, $"found only {entries.Count} kernel entry points");
        using var context = GpuDevice.CreateContext();
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_80), CudaArchitecture.SM_80, CudaInstructionSet.ISA_78, null);
        foreach (var method in entries)
        {
            var entry = EntryPointDescription.FromExplicitlyGroupedKernel(method);
            var compiled = backend.Compile(entry, default(KernelSpecialization));
            string ptx = ((PTXCompiledKernel)compiled).PTXAssembly;
            Assert.Contains(".entry", ptx);
            // FASTCALIB_PTX_DUMP=folder keeps each kernel's PTX for inspection
            if (Environment.GetEnvironmentVariable("FASTCALIB_PTX_DUMP") is { } dump) File.WriteAllText(Path.Combine(dump, method.DeclaringType!.Name + "." + method.Name + ".ptx"), ptx);
            if (method.DeclaringType!.Name == "ForwardKernel") Assert.Contains("ex2.approx", ptx);
            // totals over rows stay float64 on the device (fast math must not demote them)
            // (a context in a 32-bit-only math mode would turn the float64 reduction into an f32 add on a double); the
            // total is added by a compare-exchange loop on its bits (DeviceAtomic), so a float64 add and a 64-bit CAS
            if (method.DeclaringType!.Name == "BackwardWithTemperatureKernel")
            {
                Assert.Matches(@"add(\.rn)?\.f64", ptx);
                Assert.Matches(@"atom(\.global)?\.cas\.b64", ptx);
            }
            // the FFT's scratch in dynamic shared memory must be addressed as shared: a view that could point to shared
            // or to global memory compiled to generic loads of shared offsets, an illegal address on a real GPU
            if (method.Name == "SharedKernel") Assert.True(Regex.Matches(ptx, @"(ld|st)\.shared\.f32").Count > 100, "FFT scratch is not accessed as shared memory");
        }
    }

    /// <summary>
    /// Row lengths on both sides of every launch shape the generated kernels choose between (on the CPU accelerator:
    /// warp 4, groups of 16; on CUDA: warp 32, groups up to 1024): narrow rows staged per block or a thread per row, a
    /// team, a warp or a group per row in registers, and plain group per row.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(Accelerators))]
    public void Every_launch_shape_matches_the_reference(string name)
    {
        var accelerator = Get(name);
        Skip.If(accelerator is null, Paths.NoCuda);
        var options = new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator };
        foreach (int cols in new[] { 1, 5, 32, 33, 100, 128, 129, 255, 256, 300, 512, 513, 1000, 1024, 1025, 4096, 9000, 40000 })
        {
            var c = new SoftmaxCase(3, cols, 3, 0.7f, cols, false);
            var z = c.Logits();
            var p = TestData.Poisoned(z.Length, TestData.Poison);
            var confidence = TestData.Poisoned(c.Rows, TestData.Poison);
            var predicted = TestData.Poisoned(c.Rows, -1);
            var h = TestData.Poisoned(c.Rows, TestData.Poison);
            Softmax.Forward(z, p, cols, c.Temperature, options);
            Softmax.Top1(z, confidence, predicted, cols, c.Temperature, options);
            FastCalib.Entropy.FromLogits(z, h, cols, c.Temperature, EntropyUnit.Nats, options);
            AssertSoftmaxTop1Entropy(c, z, p, confidence, predicted, h, $"{name} cols {cols}");
        }
    }

    /// <summary>
    /// The team-per-row kernels (several rows per warp) launched directly: their launcher only picks them where a
    /// team is smaller than the warp for rows over 32 columns, which never happens with the CPU accelerator's warp
    /// of 4, so short rows here give teams of 1, 2 and 4 lanes, with lanes past the last row idle.
    /// </summary>
    [Fact]
    public void Team_per_row_kernels_match_the_reference()
    {
        var accelerator = Paths.CpuAccelerator.Value;
        var stream = accelerator.DefaultStream;
        var forward = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, float, long, int>(SoftmaxKernels.ForwardKernel.GpuTeamRows);
        var top1 = accelerator.LoadKernel<ArrayView<float>, float, ArrayView<float>, ArrayView<int>, long, int>(SoftmaxKernels.Top1Kernel.GpuTeamRows);
        var entropy = accelerator.LoadKernel<ArrayView<float>, float, float, ArrayView<float>, ArrayView<double>, long, int>(EntropyKernels.FromLogitsKernel.GpuTeamRows);
        foreach (int cols in new[] { 1, 5, 8, 9, 13, 16, 20 })
        {
            Assert.True(GpuRows.TeamSize(cols, accelerator.WarpSize) <= accelerator.WarpSize);
            var c = new SoftmaxCase(37, cols, 3, 0.8f, 100 + cols, false);
            var z = c.Logits();
            using var dz = accelerator.Allocate1D(z);
            using var dp = accelerator.Allocate1D(TestData.Poisoned(z.Length, TestData.Poison));
            using var dc = accelerator.Allocate1D(TestData.Poisoned(c.Rows, TestData.Poison));
            using var dk = accelerator.Allocate1D(TestData.Poisoned(c.Rows, -1));
            using var dh = accelerator.Allocate1D(TestData.Poisoned(c.Rows, TestData.Poison));
            using var total = accelerator.Allocate1D<double>(1);
            total.MemSetToZero();
            var shape = GpuRows.TeamRows(accelerator, c.Rows, cols);
            forward(stream, shape, dz.View, dp.View, 1 / c.Temperature, c.Rows, cols);
            top1(stream, shape, dz.View, 1 / c.Temperature, dc.View, dk.View, c.Rows, cols);
            entropy(stream, shape, dz.View, 1 / c.Temperature, 1f, dh.View, total.View, c.Rows, cols);
            stream.Synchronize();
            var (p, confidence, predicted, h) = (dp.GetAsArray1D(), dc.GetAsArray1D(), dk.GetAsArray1D(), dh.GetAsArray1D());
            AssertSoftmaxTop1Entropy(c, z, p, confidence, predicted, h, $"cols {cols}");
            double sum = h.Sum(v => (double)v);
            Assert.Equal(sum, total.GetAsArray1D()[0], 1e-9 * (1 + sum));
        }
    }

    /// <summary>Probabilities, top-1 and entropy of logits <paramref name="z"/> against the float64 reference softmax.</summary>
    private static void AssertSoftmaxTop1Entropy(SoftmaxCase c, float[] z, float[] p, float[] confidence, int[] predicted, float[] h, string what)
    {
        int cols = c.Cols;
        for (int r = 0; r < c.Rows; r++)
        {
            var row = z.AsSpan(r * cols, cols);
            var expected = Reference.Softmax(row, c.Temperature);
            int top = Reference.ArgMax(row);
            for (int j = 0; j < cols; j++)
            {
                double a = (row[top] - row[j]) / c.Temperature;
                Tolerance.AssertClose(p[r * cols + j], expected[j], Tolerance.Probability(expected[j], a, cols), $"{what} p[{r},{j}]");
            }
            Assert.Equal(top, predicted[r]);
            Tolerance.AssertClose(confidence[r], expected[top], Tolerance.Probability(expected[top], 0, cols), $"{what} confidence[{r}]");
            double entropy = -expected.Where(v => v > 0).Sum(v => v * Math.Log(v));
            Tolerance.AssertClose(h[r], entropy, 1e-5 * (1 + entropy), $"{what} H[{r}]");
        }
    }

    [Fact]
    public void Device_failures_name_the_operation_and_sizes()
    {
        var options = new ComputeOptions { Backend = Backend.Gpu, Accelerator = Paths.CpuAccelerator.Value };
        using var gpu = GpuHost.Open(options, "Softmax.Forward", 3, 1000);
        var e = Assert.Throws<DeviceException>(() => gpu.Allocate<float>(1L << 50, "probabilities"));
        Assert.Contains("Softmax.Forward", e.Message);
        Assert.Contains("[3 x 1000]", e.Message);
        Assert.Contains("probabilities", e.Message);
        Assert.Contains((1L << 52).ToString(), e.Message);
    }
}
