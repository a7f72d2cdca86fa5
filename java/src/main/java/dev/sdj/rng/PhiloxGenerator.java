package dev.sdj.rng;

import dev.sdj.sched.NoiseSource;

/**
 * The AUTOMATIC1111 webui's "NV" random number source: {@code modules/rng_philox.py},
 * {@code Generator(seed).randn(shape)}, a numpy imitation of {@code torch.randn} on an NVIDIA GPU
 * (Philox4x32-10 counter-based draws, then Box–Muller). The webui uses it by default on CUDA, one
 * generator per image for the initial noise and then the ancestral samplers' noise, so the same seed
 * gives the same picture in sdj as in the webui with that setting.
 *
 * <p>Layout per {@code randn} call of n elements, element i (as the module builds its arrays):
 * counter = (offset, 0, i, 0) and key = (low 32 bits of the seed, high 32 bits); the offset starts at 0
 * and goes up by one per call. The full 64-bit seed is used.
 *
 * <p>Every element depends only on (seed, offset, i): no state besides the offset, so results do not
 * depend on threads. Calls are serialised so that concurrent callers each get their own offset.
 */
public final class PhiloxGenerator implements NoiseSource {
    // philox_m, philox_w
    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;

    // two_pow32_inv and two_pow32_inv_2pi: np.float32 arrays, used below in float64 arithmetic
    // (numpy promotes uint32 × float32 to float64).
    private static final float TWO_POW32_INV = 2.3283064e-10f;
    private static final float TWO_POW32_INV_2PI = (float) (2.3283064e-10 * 6.2831855);

    private final long seed;
    private long offset;

    /** {@code Generator(seed)}: offset 0. The seed's 64 bits are taken as numpy's uint64. */
    public PhiloxGenerator(long seed) {
        this.seed = seed;
    }

    public long seed() {
        return seed;
    }

    /** How many {@code randn} calls were made (the module's {@code self.offset}). */
    public synchronized long offset() {
        return offset;
    }

    /** {@code Generator.randn(shape)}: float32 normals in C order, then offset += 1. */
    @Override
    public synchronized float[] randn(int... shape) {
        int n = Rngs.numel(shape);
        int key0 = (int) seed;
        int key1 = (int) (seed >>> 32);
        int off = (int) offset; // counter[0] = self.offset, stored as uint32
        float[] out = new float[n];
        int[] g = new int[4];
        for (int i = 0; i < n; i++) {
            // counter[2] = np.arange(n, dtype=np.uint32)
            philox4x32(off, 0, i, 0, key0, key1, g);
            out[i] = boxMuller(g[0], g[1]); // g[2] and g[3] are discarded
        }
        offset++;
        return out;
    }

    /** philox4_32: ten rounds of philox4_round, the key bumped by philox_w between rounds. */
    static void philox4x32(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int round = 0; round < 10; round++) {
            if (round > 0) {
                k0 += W0;
                k1 += W1;
            }
            // philox4_round: v1 = counter[0] * m0, v2 = counter[2] * m1 as uint64; uint32(v) = (low, high)
            long v1 = (c0 & 0xffffffffL) * M0;
            long v2 = (c2 & 0xffffffffL) * M1;
            int n0 = (int) (v2 >>> 32) ^ c1 ^ k0;
            int n1 = (int) v2;
            int n2 = (int) (v1 >>> 32) ^ c3 ^ k1;
            int n3 = (int) v1;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /**
     * box_muller: the first of the two Box–Muller values, r·sin(v). numpy evaluates it in float64
     * (uint32 with float32 promotes to float64), then the result is cast to float32.
     */
    static float boxMuller(int x, int y) {
        double u = (x & 0xffffffffL) * (double) TWO_POW32_INV + (double) (TWO_POW32_INV / 2);
        double v = (y & 0xffffffffL) * (double) TWO_POW32_INV_2PI + (double) (TWO_POW32_INV_2PI / 2);
        double s = StrictMath.sqrt(-2.0 * StrictMath.log(u));
        double r1 = s * StrictMath.sin(v);
        return (float) r1;
    }
}
