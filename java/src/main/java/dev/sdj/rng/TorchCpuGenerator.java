package dev.sdj.rng;

import dev.sdj.sched.NoiseSource;

/**
 * PyTorch's CPU generator, {@code torch.Generator("cpu").manual_seed(seed)}, and what
 * {@code torch.randn(shape, generator=g, dtype=torch.float32)} draws from it (torch 1.13, which
 * made the golden files; the algorithm has not changed since 1.5). This is the noise diffusers and
 * ComfyUI start from, so a seed gives the same image in sdj as in those tools.
 *
 * <p>Reproduced parts of ATen:
 * <ul>
 *   <li>{@code at::mt19937} (aten/src/ATen/core/MT19937RNGEngine.h), seeded with {@code seed & 0xffffffff};
 *   <li>{@code CPUGeneratorImpl::random()} / {@code random64()} (aten/src/ATen/CPUGeneratorImpl.cpp);
 *   <li>{@code transformation::uniform_real} (aten/src/ATen/core/TransformationHelper.h): the low 24 bits
 *       of one draw for float, the low 53 bits of a 64-bit draw for double;
 *   <li>{@code normal_kernel} (aten/src/ATen/native/cpu/DistributionTemplates.h): fewer than 16 elements
 *       go through {@code at::normal_distribution<double>} (aten/src/ATen/core/DistributionsHelper.h),
 *       which caches its second Box–Muller value in the generator; 16 or more go through
 *       {@code normal_fill} (scalar kernel) or {@code normal_fill_AVX2} (x86-64 with AVX2).
 * </ul>
 *
 * <p>The state carries over from one {@link #randn} call to the next, cached normal included, exactly
 * as consecutive draws from one torch generator. Calls are serialised (torch holds the generator's
 * mutex likewise), and nothing depends on thread count: a seed always gives the same numbers.
 */
public final class TorchCpuGenerator implements NoiseSource {

    /** Which of torch's {@code normal_fill} kernels to reproduce for tensors of 16 or more elements. */
    public enum Kernel {
        /**
         * {@code normal_fill} / {@code normal_fill_16}: torch built or run without AVX2
         * ({@code ATEN_CPU_CAPABILITY=default}); log/cos/sin of glibc in float.
         */
        SCALAR,
        /**
         * {@code normal_fill_AVX2} / {@code normal_fill_16_AVX2}: the x86-64 default; log and sincos of
         * avx_mathfun.h in float vector lanes. Differs from SCALAR by up to about 2e-6.
         */
        AVX2
    }

    // at::mt19937 constants.
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UMASK = 0x80000000;
    private static final int LMASK = 0x7fffffff;

    private final Kernel kernel;
    private final int[] state = new int[N];
    private int left;
    private int next;
    private long seed;
    // CPUGeneratorImpl::next_double_normal_sample_: the cached sin half of the last Box–Muller pair.
    private boolean hasNextDoubleNormal;
    private double nextDoubleNormal;

    /** {@code torch.Generator("cpu").manual_seed(seed)} with the AVX2 kernel (x86-64 torch). */
    public TorchCpuGenerator(long seed) {
        this(seed, Kernel.AVX2);
    }

    public TorchCpuGenerator(long seed, Kernel kernel) {
        if (kernel == null) throw new IllegalArgumentException("kernel is null");
        this.kernel = kernel;
        manualSeed(seed);
    }

    public Kernel kernel() {
        return kernel;
    }

    /** The seed as given to {@link #manualSeed} (torch's {@code initial_seed()}); only its low 32 bits matter. */
    public synchronized long seed() {
        return seed;
    }

    /**
     * {@code generator.manual_seed(seed)}: CPUGeneratorImpl::set_current_seed, which drops the cached
     * normals and rebuilds the engine. mt19937 takes {@code seed & 0xffffffff}, so seeds that agree in
     * their low 32 bits (e.g. 2^32−1 and 2^63−1) give the same numbers.
     */
    public synchronized void manualSeed(long seed) {
        this.seed = seed;
        hasNextDoubleNormal = false;
        nextDoubleNormal = 0;
        // mt19937_engine::init_with_uint32
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
        left = 1;
        next = 0;
    }

    /** {@code torch.randn(shape, generator=this, dtype=torch.float32)}, contiguous (NCHW order). */
    @Override
    public synchronized float[] randn(int... shape) {
        int size = Rngs.numel(shape);
        float[] data = new float[size];
        // normal_kernel: float, size >= 16 and contiguous -> normal_fill(_AVX2); else normal_distribution<double>.
        if (size >= 16) {
            normalFill(data);
        } else {
            for (int i = 0; i < size; i++) data[i] = (float) normalDouble();
        }
        return data;
    }

    // ---- at::mt19937 (MT19937RNGEngine.h) ----

    /** {@code CPUGeneratorImpl::random()}: one 32-bit draw of mt19937_engine::operator(). */
    int nextInt() {
        if (--left == 0) nextState();
        int y = state[next++];
        y ^= (y >>> 11);
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= (y >>> 18);
        return y;
    }

    /** {@code CPUGeneratorImpl::random64()}: make64BitsFrom32Bits(first draw, second draw). */
    long nextLong() {
        long hi = nextInt() & 0xffffffffL;
        long lo = nextInt() & 0xffffffffL;
        return (hi << 32) | lo;
    }

    private static int twist(int u, int v) {
        return (((u & UMASK) | (v & LMASK)) >>> 1) ^ ((v & 1) != 0 ? MATRIX_A : 0);
    }

    /** mt19937_engine::next_state. */
    private void nextState() {
        left = N;
        next = 0;
        int p = 0;
        for (; p < N - M; p++) state[p] = state[p + M] ^ twist(state[p], state[p + 1]);
        for (; p < N - 1; p++) state[p] = state[p + M - N] ^ twist(state[p], state[p + 1]);
        state[N - 1] = state[M - 1] ^ twist(state[N - 1], state[0]);
    }

    // ---- uniform_real_distribution (DistributionsHelper.h / TransformationHelper.h) ----

    /** {@code uniform_real_distribution<float>(0, 1)}: (random() & (2^24 − 1)) · 2^−24. */
    private float uniformFloat() {
        return (nextInt() & 0xffffff) * 0x1.0p-24f;
    }

    /** {@code uniform_real_distribution<double>(0, 1)}: (random64() & (2^53 − 1)) · 2^−53. */
    private double uniformDouble() {
        return (nextLong() & ((1L << 53) - 1)) * 0x1.0p-53;
    }

    // ---- at::normal_distribution<double> (DistributionsHelper.h), mean 0, std 1 ----

    /**
     * One value of {@code normal_distribution<double>(0, 1)}: the cached value if there is one, else
     * Box–Muller on two 53-bit uniforms, caching r·sin(θ) and returning r·cos(θ). torch 1.13 writes
     * {@code ::log(1.0 - u2)}, glibc's double functions are correctly rounded in practice, and
     * StrictMath's fdlibm is within an ulp of them: after the cast to float the results agree.
     */
    private double normalDouble() {
        if (hasNextDoubleNormal) {
            hasNextDoubleNormal = false;
            return nextDoubleNormal;
        }
        double u1 = uniformDouble();
        double u2 = uniformDouble();
        double r = StrictMath.sqrt(-2.0 * StrictMath.log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        nextDoubleNormal = r * StrictMath.sin(theta);
        hasNextDoubleNormal = true;
        return r * StrictMath.cos(theta);
    }

    // ---- normal_fill / normal_fill_AVX2 (native/cpu/DistributionTemplates.h) ----

    /** normal_fill(_AVX2) with mean 0, std 1: uniforms for all, Box–Muller per block of 16, last block redone. */
    private void normalFill(float[] data) {
        int size = data.length;
        for (int i = 0; i < size; i++) data[i] = uniformFloat();
        for (int i = 0; i < size - 15; i += 16) fill16(data, i);
        if (size % 16 != 0) {
            // "Recompute the last 16 values."
            int start = size - 16;
            for (int i = 0; i < 16; i++) data[start + i] = uniformFloat();
            fill16(data, start);
        }
    }

    private void fill16(float[] data, int off) {
        if (kernel == Kernel.AVX2) {
            normalFill16Avx2(data, off);
        } else {
            normalFill16(data, off);
        }
    }

    /**
     * normal_fill_16&lt;float&gt;: u1 = 1 − data[j] and u2 = data[j+8] in float, radius = sqrtf(−2·logf(u1)),
     * θ = (float) (2π (double) · u2), then radius·cosf(θ)·std + mean and radius·sinf(θ)·std + mean, with
     * glibc's logf/cosf/sinf reproduced by {@link GlibcMathF} (correctly rounded ones differ from glibc's
     * in about 1% of the values, by one ulp).
     */
    private static void normalFill16(float[] data, int off) {
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - data[off + j];
            float u2 = data[off + j + 8];
            float radius = (float) StrictMath.sqrt(-2f * GlibcMathF.logf(u1));
            float theta = (float) (2.0 * Math.PI * u2);
            data[off + j] = radius * GlibcMathF.cosf(theta) * 1f + 0f;
            data[off + j + 8] = radius * GlibcMathF.sinf(theta) * 1f + 0f;
        }
    }

    /**
     * normal_fill_16_AVX2, one lane at a time: u1 = 1 − data[j], radius = sqrt(−2·log256_ps(u1)),
     * θ = (float) 2π · u2, sincos256_ps(θ), then fmadd(radius·cos, std, mean) and likewise for sin.
     */
    private static void normalFill16Avx2(float[] data, int off) {
        final float twoPi = (float) (2.0 * Math.PI); // _mm256_set1_ps(2.0f * c10::pi<double>)
        float[] sincos = new float[2];
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - data[off + j];
            float u2 = data[off + j + 8];
            float radius = (float) StrictMath.sqrt(-2f * AvxMathFun.log(u1));
            float theta = twoPi * u2;
            AvxMathFun.sincos(theta, sincos);
            // _mm256_fmadd_ps(n, std_v, mean_v) with std 1, mean 0
            data[off + j] = Math.fma(radius * sincos[1], 1f, 0f);
            data[off + j + 8] = Math.fma(radius * sincos[0], 1f, 0f);
        }
    }
}
