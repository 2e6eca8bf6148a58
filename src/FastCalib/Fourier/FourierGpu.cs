namespace FastCalib.Fft;

internal static unsafe class FourierGpu
{
    public static void Magnitude(ComputeOptions compute, SpectrumPlan plan, SpectrumOptions options, float* images, float* features, long count) =>
        FourierFeatures.RunCpu(default, plan, options, images, features, count);
}
