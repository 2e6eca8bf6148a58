using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>Softmax mass of token groups against the float64 reference softmax, on every path.</summary>
public class TokenGroupsTests
{
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Group_masses_match_the_reference_softmax(KernelPath path)
    {
        foreach (var (rows, vocabulary) in new[] { (40, 1000), (3, 131072), (17, 9) })
        {
            var c = new SoftmaxCase(rows, vocabulary, 4, 0.9f, rows + vocabulary, false);
            var z = c.Logits();
            int[][] groups = vocabulary > 10
                ? [[5, 17, vocabulary - 1], [2], [100 % vocabulary + 200 % vocabulary + 3, 7]]
                : [[0, 3], [8]];
            var tokens = new TokenGroups(vocabulary, groups);
            var p = TestData.Poisoned(rows * (groups.Length + 1), TestData.Poison);
            tokens.Probabilities(z, p, c.Temperature, path.Options);
            for (int r = 0; r < rows; r++)
            {
                var expected = Reference.Softmax(z.AsSpan(r * vocabulary, vocabulary), c.Temperature);
                double inGroups = 0;
                for (int k = 0; k < groups.Length; k++)
                {
                    double mass = groups[k].Sum(id => expected[id]);
                    inGroups += mass;
                    Assert.Equal(mass, p[r * (groups.Length + 1) + k], 2e-5 * mass + 1e-9);
                }
                Assert.Equal(1 - inGroups, p[r * (groups.Length + 1) + groups.Length], 1e-5);
            }
        }
    }

    [Fact]
    public void Device_views_give_the_host_result()
    {
        var accelerator = Paths.CpuAccelerator.Value;
        var c = new SoftmaxCase(20, 500, 3, 1.2f, 4, false);
        var z = c.Logits();
        var tokens = new TokenGroups(500, [[1, 2, 3], [400, 499]]);
        var expected = new float[20 * 3];
        tokens.Probabilities(z, expected, c.Temperature, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
        using var dz = accelerator.Allocate1D(z);
        using var dp = accelerator.Allocate1D<float>(60);
        tokens.Probabilities(accelerator.DefaultStream, dz.View, dp.View, c.Temperature);
        Assert.Equal(expected, dp.GetAsArray1D());
    }

    [Fact]
    public void Bad_groups_and_shapes_are_rejected()
    {
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new TokenGroups(10, [[1, 2], [2, 3]])).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentOutOfRangeException>(() => new TokenGroups(10, [[10]])).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new TokenGroups(10, [[1], []])).ParamName);
        Assert.Equal("groups", Assert.Throws<ArgumentException>(() => new TokenGroups(10, [])).ParamName);
        var tokens = new TokenGroups(4, [[0], [1]]);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => tokens.Probabilities(new float[8], new float[5])).ParamName);
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => tokens.Probabilities(new float[7], new float[6])).ParamName);
    }
}
