using System.Numerics;
using BenchmarkDotNet.Attributes;
using FastCalib;
using MathNet.Numerics.IntegralTransforms;

namespace FastCalib.Benchmarks;

/// <summary>
/// |DFT2| of image batches [20000 x 28 x 28] and [5000 x 64 x 64]: MathNet.Numerics as a .NET user has it (its
/// managed provider has no 2D transform, so: 1D Fourier.Forward along each row, then each column, then the magnitude;
/// NumPy's sign convention without scaling), and FastCalib on each path. GB/s counts the images read once and the
/// features written once (8 bytes per pixel); images/s is images divided by the median time.
/// </summary>
[Config(typeof(KernelConfig))]
public class FourierBenchmarks : IMovesBytes
{
    private float[] _images = [];
    private float[] _features = [];
    private int _count, _height, _width;

    [Params("20000x28x28", "5000x64x64")]
    public string Shape { get; set; } = "";

    public double BytesMoved(string shape)
    {
        var (count, height, width) = Parse(shape);
        return 8.0 * count * height * width;
    }

    private static (int Count, int Height, int Width) Parse(string shape)
    {
        var parts = shape.Split('x').Select(int.Parse).ToArray();
        return (parts[0], parts[1], parts[2]);
    }

    [GlobalSetup]
    public void Setup()
    {
        (_count, _height, _width) = Parse(Shape);
        var random = new Random(11);
        _images = new float[_count * _height * _width];
        for (int i = 0; i < _images.Length; i++) _images[i] = (float)random.NextDouble();
        _features = new float[_images.Length];
    }

    [Benchmark(Baseline = true, Description = "MathNet.Numerics 1D rows + columns, 1 thread")]
    public void MathNetRowsThenColumns()
    {
        int h = _height, w = _width, pixels = h * w;
        var spectrum = new Complex[pixels];
        var row = new Complex[w];
        var column = new Complex[h];
        for (int n = 0; n < _count; n++)
        {
            for (int y = 0; y < h; y++)
            {
                for (int x = 0; x < w; x++) row[x] = new Complex(_images[n * pixels + y * w + x], 0);
                Fourier.Forward(row, FourierOptions.NoScaling);
                Array.Copy(row, 0, spectrum, y * w, w);
            }
            for (int x = 0; x < w; x++)
            {
                for (int y = 0; y < h; y++) column[y] = spectrum[y * w + x];
                Fourier.Forward(column, FourierOptions.NoScaling);
                for (int y = 0; y < h; y++) _features[n * pixels + y * w + x] = (float)column[y].Magnitude;
            }
        }
    }

    [Benchmark(Description = "FastCalib scalar, 1 thread")]
    public void Scalar() => FourierFeatures.Magnitude(_images, _features, _height, _width, default, new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, 1 thread")]
    public void SimdOneThread() => FourierFeatures.Magnitude(_images, _features, _height, _width, default, new ComputeOptions { MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, all cores")]
    public void SimdAllCores() => FourierFeatures.Magnitude(_images, _features, _height, _width);

    [Benchmark(Description = "FastCalib SIMD, all cores, shift + log1p + standardise + clip")]
    public void SimdAllCoresWithOptions() => FourierFeatures.Magnitude(_images, _features, _height, _width,
        new FourierFeatureOptions { Shift = true, Log1p = true, Standardize = true, Clip = 3 });
}
