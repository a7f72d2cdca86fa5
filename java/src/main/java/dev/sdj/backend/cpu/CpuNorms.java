package dev.sdj.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * GroupNorm, LayerNorm and softmax on float arrays, as PyTorch defines them: biased variance,
 * eps inside the square root, softmax with the row maximum subtracted first.
 */
final class CpuNorms {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Pixels summed in float before the block's sum goes into a double (see channelSums). */
    private static final int SUM_BLOCK = 64;

    private CpuNorms() {}

    // ---- GroupNorm over NHWC ----

    /**
     * y = (x − mean_g) / √(var_g + eps) · gamma + beta per (sample, group g), statistics over the
     * H·W pixels and C/groups channels of the group; then SiLU when asked. Channels are the fast
     * dimension, so the statistics are gathered as per-channel sums (vectorized over channels) and
     * folded into groups; the normalization is one fused multiply-add per element,
     * y = x · a_c + b_c with a_c = gamma_c / σ_g and b_c = beta_c − mean_g · a_c.
     */
    static void groupNorm(float[] x, int n, int hw, int c, int groups, float[] gamma, float[] beta,
                          float eps, boolean silu, float[] y) {
        int cg = c / groups;
        float[] a = new float[n * c], b = new float[n * c];
        for (int s = 0; s < n; s++) {
            long base = (long) s * hw * c;
            double count = (double) hw * cg;
            double[] groupMean = foldGroups(channelSums(x, base, hw, c, null), groups, cg, count);
            float[] meanPerChannel = new float[c];
            for (int ch = 0; ch < c; ch++) meanPerChannel[ch] = (float) groupMean[ch / cg];
            double[] groupVar = foldGroups(channelSums(x, base, hw, c, meanPerChannel), groups, cg, count);
            for (int ch = 0; ch < c; ch++) {
                double rstd = 1.0 / Math.sqrt(groupVar[ch / cg] + eps);
                double scale = gamma[ch] * rstd;
                a[s * c + ch] = (float) scale;
                b[s * c + ch] = (float) (beta[ch] - groupMean[ch / cg] * scale);
            }
        }
        Parallel.forRange(n * hw, Math.max(1, CpuActivations.GRAIN / c), (p0, p1) -> {
            for (int p = p0; p < p1; p++) affineRow(x, y, p * c, a, b, (p / hw) * c, c, silu);
        });
    }

    /** y[off..off+c) = x · a[aOff..] + b[aOff..], then SiLU if asked. */
    private static void affineRow(float[] x, float[] y, int off, float[] a, float[] b, int aOff, int c, boolean silu) {
        int j = 0;
        for (int upper = S.loopBound(c); j < upper; j += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, off + j)
                    .fma(FloatVector.fromArray(S, a, aOff + j), FloatVector.fromArray(S, b, aOff + j));
            (silu ? CpuActivations.silu(v) : v).intoArray(y, off + j);
        }
        for (; j < c; j++) {
            float v = Math.fma(x[off + j], a[aOff + j], b[aOff + j]);
            y[off + j] = silu ? CpuActivations.silu(v) : v;
        }
    }

    /** Per-group mean of per-channel sums: Σ over the group's channels / count. */
    private static double[] foldGroups(double[] channelSum, int groups, int cg, double count) {
        double[] out = new double[groups];
        for (int ch = 0; ch < channelSum.length; ch++) out[ch / cg] += channelSum[ch];
        for (int g = 0; g < groups; g++) out[g] /= count;
        return out;
    }

    /**
     * Per-channel Σ x (mean == null) or Σ (x − mean_c)² over the hw pixels at x[base..]. Each
     * thread takes a range of pixels; within it, blocks of SUM_BLOCK pixels are summed in float
     * vectors and each block's sum is added to a double, so a million-pixel VAE image loses no
     * more than a 64-term float sum does.
     */
    private static double[] channelSums(float[] x, long base, int hw, int c, float[] mean) {
        int pieces = Math.max(1, Math.min(Parallel.threads(), hw / SUM_BLOCK));
        double[][] partial = new double[pieces][c];
        Parallel.forEach(pieces, piece -> {
            int p0 = (int) ((long) hw * piece / pieces), p1 = (int) ((long) hw * (piece + 1) / pieces);
            float[] block = new float[c];
            double[] acc = partial[piece];
            for (int blockStart = p0; blockStart < p1; blockStart += SUM_BLOCK) {
                int blockEnd = Math.min(p1, blockStart + SUM_BLOCK);
                java.util.Arrays.fill(block, 0f);
                for (int p = blockStart; p < blockEnd; p++) {
                    addPixel(x, (int) (base + (long) p * c), c, mean, block);
                }
                for (int ch = 0; ch < c; ch++) acc[ch] += block[ch];
            }
        });
        double[] sum = new double[c];
        for (double[] part : partial) for (int ch = 0; ch < c; ch++) sum[ch] += part[ch];
        return sum;
    }

    /** block[ch] += x[off + ch] or (x[off + ch] − mean[ch])², for every channel. */
    private static void addPixel(float[] x, int off, int c, float[] mean, float[] block) {
        int j = 0;
        for (int upper = S.loopBound(c); j < upper; j += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, off + j);
            FloatVector acc = FloatVector.fromArray(S, block, j);
            if (mean == null) {
                acc = acc.add(v);
            } else {
                FloatVector d = v.sub(FloatVector.fromArray(S, mean, j));
                acc = d.fma(d, acc);
            }
            acc.intoArray(block, j);
        }
        for (; j < c; j++) {
            float v = x[off + j];
            if (mean == null) {
                block[j] += v;
            } else {
                float d = v - mean[j];
                block[j] += d * d;
            }
        }
    }

    // ---- LayerNorm over the last dim ----

    /** Per row of c: (x − mean) / √(var + eps), then · gamma + beta when gamma/beta are given. */
    static void layerNorm(float[] x, int rows, int c, float[] gamma, float[] beta, float eps, float[] y) {
        Parallel.forRange(rows, Math.max(1, CpuActivations.GRAIN / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) layerNormRow(x, y, r * c, c, gamma, beta, eps);
        });
    }

    private static void layerNormRow(float[] x, float[] y, int off, int c, float[] gamma, float[] beta, float eps) {
        float mean = sum(x, off, c) / c;
        // Second pass over (x − mean)², which unlike E[x²] − mean² cannot cancel.
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int upper = S.loopBound(c); j < upper; j += S.length()) {
            FloatVector d = FloatVector.fromArray(S, x, off + j).sub(mean);
            acc = d.fma(d, acc);
        }
        float sq = HostFloats.sumLanes(acc);
        for (; j < c; j++) sq += (x[off + j] - mean) * (x[off + j] - mean);
        float rstd = (float) (1.0 / Math.sqrt(sq / c + eps));

        j = 0;
        for (int upper = S.loopBound(c); j < upper; j += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, off + j).sub(mean).mul(rstd);
            if (gamma != null) v = v.mul(FloatVector.fromArray(S, gamma, j));
            if (beta != null) v = v.add(FloatVector.fromArray(S, beta, j));
            v.intoArray(y, off + j);
        }
        for (; j < c; j++) {
            float v = (x[off + j] - mean) * rstd;
            if (gamma != null) v *= gamma[j];
            if (beta != null) v += beta[j];
            y[off + j] = v;
        }
    }

    private static float sum(float[] x, int off, int n) {
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (int upper = S.loopBound(n); j < upper; j += S.length()) acc = acc.add(FloatVector.fromArray(S, x, off + j));
        float s = HostFloats.sumLanes(acc);
        for (; j < n; j++) s += x[off + j];
        return s;
    }

    // ---- softmax over the last dim ----

    static void softmax(float[] x, int rows, int c, float[] y) {
        Parallel.forRange(rows, Math.max(1, CpuActivations.GRAIN / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) softmaxRow(x, r * c, y, r * c, c);
        });
    }

    /**
     * y[yOff..+n) = softmax(x[xOff..+n)): e^(x − max) / Σ e^(x − max), so the largest term is
     * e^0 = 1 and nothing overflows. x and y may be the same array at the same offset.
     */
    static void softmaxRow(float[] x, int xOff, float[] y, int yOff, int n) {
        if (n == 0) return;
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int j = 0;
        for (int upper = S.loopBound(n); j < upper; j += S.length()) vmax = vmax.max(FloatVector.fromArray(S, x, xOff + j));
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < n; j++) max = Math.max(max, x[xOff + j]);

        FloatVector vsum = FloatVector.zero(S);
        j = 0;
        for (int upper = S.loopBound(n); j < upper; j += S.length()) {
            FloatVector e = CpuActivations.expNonPositive(FloatVector.fromArray(S, x, xOff + j).sub(max));
            e.intoArray(y, yOff + j);
            vsum = vsum.add(e);
        }
        float sum = HostFloats.sumLanes(vsum);
        for (; j < n; j++) {
            float e = CpuActivations.expNonPositive(FloatVector.broadcast(S, x[xOff + j] - max)).lane(0);
            y[yOff + j] = e;
            sum += e;
        }

        float inv = 1f / sum;
        j = 0;
        for (int upper = S.loopBound(n); j < upper; j += S.length()) FloatVector.fromArray(S, y, yOff + j).mul(inv).intoArray(y, yOff + j);
        for (; j < n; j++) y[yOff + j] *= inv;
    }
}
