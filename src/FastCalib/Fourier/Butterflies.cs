using FastCalib.Kernels;

namespace FastCalib.Fft;

/// <summary>
/// The FFT butterflies the engine uses, generated from this declaration (see <see cref="FftRadicesAttribute"/>).
/// Lengths are factored into these radices, largest first; a length with a prime factor above 13 goes through
/// Bluestein's algorithm on a length that factors.
/// </summary>
[FftRadices(2, 3, 4, 5, 7, 8, 11, 13, 16)]
internal static partial class Butterflies
{
}
