package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.HostFloats.alloc;
import static dev.sdj.backend.cpu.HostFloats.allocParameter;
import static dev.sdj.backend.cpu.HostFloats.array;
import static dev.sdj.backend.cpu.HostFloats.dims;
import static dev.sdj.backend.cpu.HostFloats.error;
import static dev.sdj.backend.cpu.HostFloats.lastDim;
import static dev.sdj.backend.cpu.HostFloats.read;
import static dev.sdj.backend.cpu.HostFloats.requireF32;
import static dev.sdj.backend.cpu.HostFloats.requireHost;
import static dev.sdj.backend.cpu.HostFloats.requireNotNchw;
import static dev.sdj.backend.cpu.HostFloats.requireRank;
import static dev.sdj.backend.cpu.HostFloats.requireVector;

import dev.sdj.backend.Backend;
import dev.sdj.core.DType;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * The pure-Java reference backend: fp32 on host memory, multi-threaded over the common fork-join
 * pool ({@link Parallel}), Vector API inner loops. Every other backend is tested against it.
 *
 * <p>Tensors are F32 host tensors; outputs are fresh {@code float[]}-backed tensors, inputs may be
 * any F32 host segment (a heap array or a mapped safetensors slice). Other dtypes are converted
 * by {@link #upload}; an op given one throws rather than convert silently on every call. What
 * {@link #upload} converts and what {@link #convWeight} permutes are parameters, long-lived and
 * large (SD1.5's conv weights are 2.4 GB): from {@link HostFloats#OFF_HEAP_MIN} floats on they
 * live off-heap ({@link HostFloats#allocateNative}), so that they neither crowd the GC heap nor get
 * copied by it.
 *
 * <p>The weights of {@link #conv2d} and {@link #linear} are packed once, on first use, into the
 * GEMM's panel layout (3×3 convolutions into Winograd's transformed form), see
 * {@link PackedWeights}.
 *
 * <p>Each method checks its arguments, then hands the arrays to a kernel: {@link Gemm} and
 * {@link Conv2d} for the matrix work, {@link CpuNorms}, {@link CpuActivations},
 * {@link CpuAttention} and {@link CpuElementwise} for the rest; the layout ops are plain loops here.
 */
public final class CpuBackend implements Backend, dev.sdj.backend.StepIndexedOps {

    /** Weights (conv2d and linear) in the GEMM's packed B layout, packed on first use. */
    private final PackedWeights packedWeights = new PackedWeights();

    @Override
    public String name() {
        return "cpu";
    }

    /** An F32 host copy of a host tensor of any dtype (an F32 one is already that and is returned as is). */
    @Override
    public Tensor upload(Tensor host) {
        requireHost("upload", "host", host);
        if (host.dtype() == DType.F32) return host;
        Tensor out = allocParameter(host.layout(), host.shape());
        MemorySegment y = out.data();
        // Tensor.getFloat widens every dtype exactly (F64 rounds to nearest); only reads, so threads can share it.
        Parallel.forRange(Math.toIntExact(host.numel()), CpuActivations.GRAIN, (s, e) -> {
            float[] buf = new float[e - s];
            for (int i = s; i < e; i++) buf[i - s] = host.getFloat(i);
            MemorySegment.copy(buf, 0, y, HostFloats.F32_LE, (long) s * Float.BYTES, e - s);
        });
        return out;
    }

    /**
     * {@code t} as an F32 host tensor. CPU tensors already are host memory, so an F32 one is
     * returned as is (no op ever writes its inputs, so sharing the storage is safe).
     */
    @Override
    public Tensor download(Tensor t) {
        requireHost("download", "t", t);
        return upload(t);
    }

    // ---- convolution and matrix products ----

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW) {
        String op = "conv2d";
        requireF32(op, "x", x);
        requireF32(op, "weight", weight);
        requireRank(op, "x", x, 4);
        requireRank(op, "weight", weight, 4);
        requireNotNchw(op, "x", x);
        if (weight.layout() == Layout.OIHW) {
            throw error(op, "weight OIHW " + dims(weight) + " must be OHWI; convert it with convWeight()");
        }
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), cin = x.dim(3);
        int cout = weight.dim(0), kh = weight.dim(1), kw = weight.dim(2);
        if (weight.dim(3) != cin) {
            throw error(op, "weight OHWI " + dims(weight) + " expects " + weight.dim(3) + " input channels, x NHWC "
                    + dims(x) + " has " + cin);
        }
        if (bias != null) requireVector(op, "bias", bias, cout, weight);
        if (strideH < 1 || strideW < 1 || padH < 0 || padW < 0) {
            throw error(op, "stride (" + strideH + ", " + strideW + ") must be >= 1 and padding (" + padH + ", " + padW
                    + ") >= 0");
        }
        if (h + 2 * padH < kh || w + 2 * padW < kw) {
            throw error(op, "kernel " + kh + "x" + kw + " of weight " + dims(weight) + " is larger than x " + dims(x)
                    + " padded by (" + padH + ", " + padW + ")");
        }
        int ho = Conv2d.outSize(h, kh, strideH, padH), wo = Conv2d.outSize(w, kw, strideW, padW);
        Tensor out = alloc(Layout.NHWC, n, ho, wo, cout);
        if (Conv2d.winogradApplies(n, ho, wo, cin, kh, kw, strideH, strideW)) {
            Gemm.PackedB[] u = packedWeights.winograd(weight, cout, cin);
            if (u != null) {
                Conv2d.winograd(x.data(), n, h, w, cin, u, cout, bias == null ? null : bias.data(), padH, padW, array(out));
                return out;
            }
        }
        // The weight (cout, kh·kw·cin) is the GEMM's B transposed: packed once, then reused.
        Gemm.PackedB packed = packedWeights.get(weight, cout, kh * kw * cin);
        Conv2d.forward(x.data(), n, h, w, cin, weight.data(), packed, cout, kh, kw, bias == null ? null : bias.data(),
                strideH, strideW, padH, padW, out.data());
        return out;
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        String op = "linear";
        requireF32(op, "x", x);
        requireF32(op, "weight", weight);
        requireRank(op, "weight", weight, 2);
        int in = lastDim(op, x), outF = weight.dim(0);
        if (weight.dim(1) != in) {
            throw error(op, "weight [out, in] " + dims(weight) + " expects " + weight.dim(1) + " input features, x "
                    + dims(x) + " has " + in);
        }
        if (bias != null) requireVector(op, "bias", bias, outF, weight);
        int rows = rowsOf(x);
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        Tensor out = alloc(x.layout(), shape);
        if (rows == 0 || outF == 0) return out;
        // The bias goes in with the GEMM's epilogue; the weight (out, in) is B transposed, packed once.
        float[] b = bias == null ? null : read(bias);
        Gemm.PackedB packed = packedWeights.get(weight, outF, in);
        Gemm.checkMatrix("x", x.data(), 0, rows, in, in);
        Gemm.APacker a = new Gemm.MatrixA(x.data(), 0, in, false);
        if (packed != null) {
            Gemm.run(rows, outF, in, 1f, a, packed, 0f, b, out.data(), 0, outF, true);
        } else {
            Gemm.checkMatrix("weight", weight.data(), 0, outF, in, in);
            Gemm.run(rows, outF, in, 1f, a, weight.data(), 0, in, true, 0f, b, out.data(), 0, outF, true);
        }
        return out;
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB, float alpha) {
        String op = "matmul";
        requireF32(op, "a", a);
        requireF32(op, "b", b);
        requireRank(op, "a", a, 3);
        requireRank(op, "b", b, 3);
        int batch = a.dim(0);
        int m = transA ? a.dim(2) : a.dim(1), k = transA ? a.dim(1) : a.dim(2);
        int kb = transB ? b.dim(2) : b.dim(1), n = transB ? b.dim(1) : b.dim(2);
        if (b.dim(0) != batch || kb != k) {
            throw error(op, "a " + dims(a) + (transA ? "ᵀ" : "") + " and b " + dims(b) + (transB ? "ᵀ" : "")
                    + " do not multiply: need equal batch and K (a has K = " + k + ", b has K = " + kb + ")");
        }
        Tensor out = alloc(Layout.PLAIN, batch, m, n);
        MemorySegment as = a.data(), bs = b.data(), cs = out.data();
        int lda = a.dim(2), ldb = b.dim(2);
        long aStride = (long) a.dim(1) * a.dim(2), bStride = (long) b.dim(1) * b.dim(2), cStride = (long) m * n;
        if (batch >= Parallel.threads()) {
            // Enough matrices to keep every thread busy with whole ones.
            Parallel.forEach(batch, i -> Gemm.sgemmSerial(transA, transB, m, n, k, alpha, as, i * aStride, lda,
                    bs, i * bStride, ldb, 0f, cs, i * cStride, n));
        } else {
            for (int i = 0; i < batch; i++) {
                Gemm.sgemm(transA, transB, m, n, k, alpha, as, i * aStride, lda, bs, i * bStride, ldb, 0f, cs, i * cStride, n);
            }
        }
        return out;
    }

    // ---- normalization ----

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        String op = "groupNorm";
        requireF32(op, "x", x);
        requireRank(op, "x", x, 4);
        requireNotNchw(op, "x", x);
        int n = x.dim(0), hw = x.dim(1) * x.dim(2), c = x.dim(3);
        if (groups < 1 || c % groups != 0) {
            throw error(op, groups + " groups do not divide the " + c + " channels of x NHWC " + dims(x));
        }
        requireVector(op, "gamma", gamma, c, x);
        requireVector(op, "beta", beta, c, x);
        Tensor out = alloc(x.layout(), x.shape());
        CpuNorms.groupNorm(read(x), n, hw, c, groups, read(gamma), read(beta), eps, silu, array(out));
        return out;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        String op = "layerNorm";
        requireF32(op, "x", x);
        int c = lastDim(op, x);
        if (gamma != null) requireVector(op, "gamma", gamma, c, x);
        if (beta != null) requireVector(op, "beta", beta, c, x);
        Tensor out = alloc(x.layout(), x.shape());
        CpuNorms.layerNorm(read(x), rowsOf(x), c, gamma == null ? null : read(gamma), beta == null ? null : read(beta),
                eps, array(out));
        return out;
    }

    @Override
    public Tensor softmax(Tensor x) {
        String op = "softmax";
        requireF32(op, "x", x);
        int c = lastDim(op, x);
        Tensor out = alloc(x.layout(), x.shape());
        CpuNorms.softmax(read(x), rowsOf(x), c, array(out));
        return out;
    }

    // ---- attention ----

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        String op = "attention";
        requireF32(op, "q", q);
        requireF32(op, "k", k);
        requireF32(op, "v", v);
        requireRank(op, "q", q, 3);
        requireRank(op, "k", k, 3);
        requireRank(op, "v", v, 3);
        int b = q.dim(0), lq = q.dim(1), lk = k.dim(1);
        String all = "q " + dims(q) + ", k " + dims(k) + ", v " + dims(v);
        if (heads < 1 || q.dim(2) % heads != 0 || v.dim(2) % heads != 0 || q.dim(2) == 0) {
            throw error(op, heads + " heads must divide the (non-empty) channels of q and v: " + all);
        }
        if (k.dim(0) != b || v.dim(0) != b) throw error(op, "batch sizes differ: " + all);
        if (k.dim(2) != q.dim(2)) throw error(op, "q and k need the same heads·D channels: " + all);
        if (v.dim(1) != lk) throw error(op, "k and v need the same number of keys: " + all);
        int d = q.dim(2) / heads, dv = v.dim(2) / heads;
        Tensor out = alloc(q.layout(), b, lq, heads * dv);
        if (lk > 0) CpuAttention.forward(q.data(), k.data(), v.data(), b, lq, lk, heads, d, dv, causal, array(out));
        return out;
    }

    // ---- activations ----

    @Override
    public Tensor silu(Tensor x) {
        requireF32("silu", "x", x);
        Tensor out = alloc(x.layout(), x.shape());
        CpuActivations.silu(read(x), array(out));
        return out;
    }

    @Override
    public Tensor gelu(Tensor x, boolean tanhApproximation) {
        requireF32("gelu", "x", x);
        Tensor out = alloc(x.layout(), x.shape());
        if (tanhApproximation) CpuActivations.geluTanh(read(x), array(out));
        else CpuActivations.geluErf(read(x), array(out));
        return out;
    }

    @Override
    public Tensor quickGelu(Tensor x) {
        requireF32("quickGelu", "x", x);
        Tensor out = alloc(x.layout(), x.shape());
        CpuActivations.quickGelu(read(x), array(out));
        return out;
    }

    @Override
    public Tensor geglu(Tensor x) {
        String op = "geglu";
        requireF32(op, "x", x);
        int c2 = lastDim(op, x);
        if (c2 % 2 != 0) throw error(op, "x " + dims(x) + " needs an even last dim (hidden and gate halves)");
        int[] shape = x.shape();
        shape[shape.length - 1] = c2 / 2;
        Tensor out = alloc(x.layout(), shape);
        CpuActivations.geglu(read(x), rowsOf(x), c2 / 2, array(out));
        return out;
    }

    // ---- resampling and concatenation ----

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        String op = "upsampleNearest";
        requireF32(op, "x", x);
        requireRank(op, "x", x, 4);
        requireNotNchw(op, "x", x);
        if (outH < 1 || outW < 1) throw error(op, "output size " + outH + "x" + outW + " for x " + dims(x) + " must be positive");
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        if (h == 0 || w == 0) throw error(op, "x " + dims(x) + " is empty");
        int[] srcY = nearestSources(h, outH), srcX = nearestSources(w, outW);
        float[] in = read(x);
        Tensor out = alloc(Layout.NHWC, n, outH, outW, c);
        float[] y = array(out);
        Parallel.forRange(n * outH, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r / outH, oy = r % outH;
                int inRow = (b * h + srcY[oy]) * w * c, outRow = r * outW * c;
                for (int ox = 0; ox < outW; ox++) System.arraycopy(in, inRow + srcX[ox] * c, y, outRow + ox * c, c);
            }
        });
        return out;
    }

    @Override
    public Tensor pad2d(Tensor x, int top, int bottom, int left, int right) {
        String op = "pad2d";
        requireF32(op, "x", x);
        requireRank(op, "x", x, 4);
        requireNotNchw(op, "x", x);
        if (top < 0 || bottom < 0 || left < 0 || right < 0) {
            throw error(op, "padding (" + top + ", " + bottom + ", " + left + ", " + right + ") for x " + dims(x) + " must be >= 0");
        }
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        int oh = h + top + bottom, ow = w + left + right;
        float[] in = read(x);
        Tensor out = alloc(Layout.NHWC, n, oh, ow, c);
        float[] y = array(out);
        Parallel.forRange(n * h, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r / h, iy = r % h;
                System.arraycopy(in, r * w * c, y, ((b * oh + iy + top) * ow + left) * c, w * c);
            }
        });
        return out;
    }

    /**
     * PyTorch's nearest source index along one axis (UpSample.h nearest_idx): identity for equal
     * sizes, dst / 2 for exactly 2×, else min(floor(dst · scale), in − 1) with scale = in / out
     * computed in float, as PyTorch does (which is what makes e.g. 5 → 11 land where it does).
     */
    static int[] nearestSources(int in, int out) {
        int[] src = new int[out];
        float scale = (float) in / out;
        for (int dst = 0; dst < out; dst++) {
            if (out == in) src[dst] = dst;
            else if (out == 2 * in) src[dst] = dst >> 1;
            else src[dst] = Math.min((int) Math.floor(dst * scale), in - 1);
        }
        return src;
    }

    // ---- step-indexed ops: the CPU twin of the GPU's graph-captured step (a host counter; capture records the step) ----

    private static final class HostStepTable implements StepTable {
        final float[][] rows;
        int step;

        HostStepTable(float[][] rows) {
            this.rows = rows;
        }
    }

    private static HostStepTable host(StepTable t) {
        if (t instanceof HostStepTable h) return h;
        throw new IllegalArgumentException("a step table of another backend");
    }

    @Override
    public StepTable stepTable(float[][] coefficientRows) {
        float[][] copy = new float[coefficientRows.length][];
        for (int i = 0; i < copy.length; i++) copy[i] = coefficientRows[i].clone();
        return new HostStepTable(copy);
    }

    @Override
    public Tensor linearCombinationAt(StepTable t, Tensor basis, int batch) {
        HostStepTable h = host(t);
        float[] c = h.rows[h.step];
        if (batch < 1 || basis.dim(0) != c.length * batch) {
            throw error("linearCombinationAt", "basis " + dims(basis) + " is not " + c.length + " entries of batch " + batch);
        }
        java.util.List<Tensor> terms = new java.util.ArrayList<>();
        for (int k = 0; k < c.length; k++) terms.add(basis.narrowBatch(k * batch, batch));
        return linearCombination(c, terms);
    }

    @Override
    public Tensor rowsAt(StepTable t, Tensor rows, int rowsPerStep) {
        HostStepTable h = host(t);
        if (rowsPerStep < 1 || rows.dim(0) != h.rows.length * rowsPerStep) {
            throw error("rowsAt", "rows " + dims(rows) + " are not " + h.rows.length + " steps of " + rowsPerStep);
        }
        Tensor view = rows.narrowBatch(h.step * rowsPerStep, rowsPerStep);
        Tensor y = empty(rows.layout(), view.shape());
        copy(view, y);
        return y;
    }

    @Override
    public void copyToRowsAt(StepTable t, Tensor src, Tensor rows) {
        HostStepTable h = host(t);
        copy(src, rows.narrowBatch(h.step * src.dim(0), src.dim(0)));
    }

    @Override
    public void advance(StepTable t) {
        host(t).step++;
    }

    /** Nothing runs now; each launch runs the step again, as a graph replay would. */
    @Override
    public StepGraph capture(Object key, Runnable step) {
        return new StepGraph() {
            @Override
            public void launch() {
                step.run();
            }

            @Override
            public void close() {}
        };
    }

    @Override
    public Tensor empty(Layout layout, int... shape) {
        return alloc(layout, shape);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        requireF32("copy", "src", src);
        requireF32("copy", "dst", dst);
        if (!java.util.Arrays.equals(src.shape(), dst.shape())) throw error("copy", "src " + dims(src) + " and dst " + dims(dst) + " differ");
        MemorySegment.copy(src.data(), 0, dst.data(), 0, src.byteSize());
    }

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        String op = "concatChannels";
        requireF32(op, "a", a);
        requireF32(op, "b", b);
        int ca = lastDim(op, a), cb = lastDim(op, b);
        boolean sameLeading = a.rank() == b.rank();
        for (int d = 0; sameLeading && d < a.rank() - 1; d++) sameLeading = a.dim(d) == b.dim(d);
        if (!sameLeading) throw error(op, "a " + dims(a) + " and b " + dims(b) + " must agree in every dim but the last");
        int[] shape = a.shape();
        shape[shape.length - 1] = ca + cb;
        Tensor out = alloc(a.layout(), shape);
        float[] xa = read(a), xb = read(b), y = array(out);
        int c = ca + cb;
        Parallel.forRange(rowsOf(a), Math.max(1, CpuActivations.GRAIN / Math.max(1, c)), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                System.arraycopy(xa, r * ca, y, r * c, ca);
                System.arraycopy(xb, r * cb, y, r * c + ca, cb);
            }
        });
        return out;
    }

    // ---- elementwise arithmetic ----

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return broadcast("add", CpuElementwise.Op.ADD, a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return broadcast("mul", CpuElementwise.Op.MUL, a, b);
    }

    private static Tensor broadcast(String op, CpuElementwise.Op kind, Tensor a, Tensor b) {
        requireF32(op, "a", a);
        requireF32(op, "b", b);
        boolean ok = b.rank() <= a.rank();
        for (int d = 1; ok && d <= b.rank(); d++) ok = b.dim(-d) == a.dim(-d) || b.dim(-d) == 1;
        if (!ok) throw error(op, "b " + dims(b) + " does not broadcast to a " + dims(a));
        Tensor out = alloc(a.layout(), a.shape());
        CpuElementwise.apply(kind, read(a), a.shape(), read(b), b.shape(), array(out));
        return out;
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        requireF32("scale", "x", x);
        Tensor out = alloc(x.layout(), x.shape());
        CpuElementwise.scale(read(x), s, array(out));
        return out;
    }

    // ---- timestep embedding ----

    /**
     * diffusers' get_timestep_embedding, step by step in float32 as torch computes it there:
     * exponent_i = (i · (−ln maxPeriod)) / (half − shift), freq_i = exp(exponent_i),
     * arg = scale · (t · freq_i); then [sin | cos] (or [cos | sin] flipped), a zero column when dim is odd.
     */
    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift,
                                    float scale, float maxPeriod) {
        String op = "timestepEmbedding";
        if (timesteps == null) throw error(op, "timesteps is null");
        if (dim < 1) throw error(op, "dim " + dim + " must be >= 1");
        int half = dim / 2;
        float denom = half - downscaleFreqShift;
        if (half > 0 && denom == 0f) {
            throw error(op, "dim/2 - downscaleFreqShift = " + half + " - " + downscaleFreqShift + " is 0");
        }
        float negLogPeriod = (float) -Math.log(maxPeriod);
        float[] freq = new float[half];
        for (int i = 0; i < half; i++) freq[i] = (float) Math.exp((i * negLogPeriod) / denom);

        Tensor out = alloc(Layout.PLAIN, timesteps.length, dim);
        float[] y = array(out);
        int sinAt = flipSinToCos ? half : 0, cosAt = flipSinToCos ? 0 : half;
        for (int r = 0; r < timesteps.length; r++) {
            for (int i = 0; i < half; i++) {
                float arg = scale * (timesteps[r] * freq[i]);
                y[r * dim + sinAt + i] = (float) Math.sin(arg);
                y[r * dim + cosAt + i] = (float) Math.cos(arg);
            }
            // An odd dim leaves y[r * dim + 2 * half] at its zero: torch's pad (0, 1).
        }
        return out;
    }

    // ---- dtype and layout conversions ----

    /** A host copy of x (any dtype) in {@code dtype}, rounded to nearest even ({@link Tensor#to}). */
    @Override
    public Tensor cast(Tensor x, DType dtype) {
        requireHost("cast", "x", x);
        if (dtype == null) throw error("cast", "dtype is null");
        if (x.dtype() != dtype) return x.to(dtype);
        Tensor copy = Tensor.zeros(dtype, x.layout(), x.shape());
        MemorySegment.copy(x.data(), 0, copy.data(), 0, x.byteSize());
        return copy;
    }

    @Override
    public Tensor nchwToNhwc(Tensor x) {
        String op = "nchwToNhwc";
        requireF32(op, "x", x);
        requireRank(op, "x", x, 4);
        if (x.layout() == Layout.NHWC) throw error(op, "x " + dims(x) + " is already NHWC");
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor out = alloc(Layout.NHWC, n, h, w, c);
        channelsLast(read(x), n, c, h, w, array(out));
        return out;
    }

    @Override
    public Tensor nhwcToNchw(Tensor x) {
        String op = "nhwcToNchw";
        requireF32(op, "x", x);
        requireRank(op, "x", x, 4);
        if (x.layout() == Layout.NCHW) throw error(op, "x " + dims(x) + " is already NCHW");
        int n = x.dim(0), h = x.dim(1), w = x.dim(2), c = x.dim(3);
        Tensor out = alloc(Layout.NCHW, n, c, h, w);
        float[] in = read(x), y = array(out);
        Parallel.forRange(n * c, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r / c, ch = r % c;
                for (int p = 0; p < h * w; p++) y[r * h * w + p] = in[(b * h * w + p) * c + ch];
            }
        });
        return out;
    }

    /** (Cout, Cin, kh, kw) → (Cout, kh, kw, Cin): the same channels-last permute as NCHW → NHWC. */
    @Override
    public Tensor convWeight(Tensor oihw) {
        String op = "convWeight";
        requireF32(op, "oihw", oihw);
        requireRank(op, "oihw", oihw, 4);
        if (oihw.layout() == Layout.OHWI) throw error(op, "weight " + dims(oihw) + " is already OHWI");
        int cout = oihw.dim(0), cin = oihw.dim(1), kh = oihw.dim(2), kw = oihw.dim(3);
        Tensor out = allocParameter(Layout.OHWI, cout, kh, kw, cin);
        float[] x = read(oihw);
        MemorySegment y = out.data();
        // Row (o, ky) of the result, kw·cin floats, built in a buffer and copied: the result may be off-heap.
        Parallel.forRange(cout * kh, 1, (r0, r1) -> {
            float[] row = new float[kw * cin];
            for (int r = r0; r < r1; r++) {
                int o = r / kh, ky = r % kh;
                for (int kx = 0; kx < kw; kx++) {
                    for (int ci = 0; ci < cin; ci++) row[kx * cin + ci] = x[((o * cin + ci) * kh + ky) * kw + kx];
                }
                MemorySegment.copy(row, 0, y, HostFloats.F32_LE, (long) r * kw * cin * Float.BYTES, kw * cin);
            }
        });
        return out;
    }

    /** y (n, h, w, c) = x (n, c, h, w), one task per output row (n, h). */
    private static void channelsLast(float[] x, int n, int c, int h, int w, float[] y) {
        Parallel.forRange(n * h, 1, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r / h, yy = r % h;
                for (int xx = 0; xx < w; xx++) {
                    int dst = (r * w + xx) * c, src = (b * c * h + yy) * w + xx;
                    for (int ch = 0; ch < c; ch++) y[dst + ch] = x[src + ch * h * w];
                }
            }
        });
    }

    /** Rows of the last dim: every dim but the last multiplied together. */
    private static int rowsOf(Tensor x) {
        long rows = 1;
        for (int d = 0; d < x.rank() - 1; d++) rows *= x.dim(d);
        return Math.toIntExact(rows);
    }

    /**
     * Drops the packed weights (their memory goes when the GC finds them unreachable). Nothing
     * else to release: outputs are Java arrays collected with their tensors, mapped inputs belong
     * to the files that mapped them, and the threads are the JVM's common pool.
     */
    @Override
    public void close() {
        packedWeights.clear();
    }

    /** Bytes of packed weights held by all CPU backends (see {@link PackedWeights}). */
    public static long packedWeightBytes() {
        return PackedWeights.TOTAL.get();
    }

    /**
     * The weights of conv2d and linear calls packed once into the GEMM's B layout (a transpose of
     * PyTorch's out×in, see {@link Gemm.PackedB}), keyed by the weight tensor's identity and held
     * weakly: a model's layers pass the same Tensor on every forward, so from the second call on
     * the GEMM skips packing and streams B sequentially. At small spatial sizes (an 8×8 latent
     * level, M = 128 rows) packing B per call had cost as much as the product itself.
     *
     * <p>A tensor given as a weight is taken to be immutable, as every op treats its inputs; as a
     * guard, a few sampled values are compared on every hit and a mismatch repacks. Tensors under
     * {@link #MIN_FLOATS} floats are not cached (packing them is cheap). Packed memory is native
     * ({@link HostFloats#allocateNative}) and bounded for the whole JVM by {@code sdj.cpu.packedWeightsMiB}
     * (default a quarter of the physical memory); past it, and while packing would leave the
     * machine less than {@link #RESERVE} (a quarter of the physical memory, at least 2 GiB) free
     * for activations and everything else, weights are packed per call as before. (SD1.5 packs
     * 4.7 GiB and fits; SDXL's 10 GB of fp32 weights get about 6 GiB packed on a 24 GiB machine.)
     */
    static final class PackedWeights {
        static final long MIN_FLOATS = 4096;
        static final long RESERVE = Math.max(2L << 30, physicalMemory() / 4);
        static final java.util.concurrent.atomic.AtomicLong TOTAL = new java.util.concurrent.atomic.AtomicLong();
        private static final java.lang.ref.Cleaner CLEANER = java.lang.ref.Cleaner.create();
        private static final long BUDGET = budget();
        private static final int SAMPLES = 16;

        private record Entry(Gemm.PackedB[] packed, long fingerprint) {}

        private final java.util.Map<Tensor, Entry> map = new java.util.WeakHashMap<>();
        private final java.util.Map<Tensor, Entry> winograd = new java.util.WeakHashMap<>();

        private static long budget() {
            long mib = Long.getLong("sdj.cpu.packedWeightsMiB", -1);
            if (mib >= 0) return mib << 20;
            return physicalMemory() / 4;
        }

        private static long physicalMemory() {
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return os.getTotalMemorySize();
            }
            return Runtime.getRuntime().maxMemory();
        }

        private static long freeMemory() {
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return os.getFreeMemorySize();
            }
            return Long.MAX_VALUE;
        }

        /** weight as op(B) = weightᵀ (weight n×k row-major), packed; null when not cached. */
        Gemm.PackedB get(Tensor weight, int n, int k) {
            Gemm.PackedB[] p = lookup(map, weight, n, k, 1, () -> new Gemm.PackedB[] {Gemm.pack(n, k, weight.data(), 0, k, true)});
            return p == null ? null : p[0];
        }

        /** A 3×3 conv weight (cout, 3, 3, cin) as Winograd's 16 transformed matrices; null when not cached. */
        Gemm.PackedB[] winograd(Tensor weight, int cout, int cin) {
            return lookup(winograd, weight, cout, cin, 16, () -> Conv2d.winogradWeights(weight.data(), cout, cin));
        }

        private synchronized Gemm.PackedB[] lookup(java.util.Map<Tensor, Entry> cache, Tensor weight, int n, int k, int parts,
                                                   java.util.function.Supplier<Gemm.PackedB[]> pack) {
            long floats = weight.numel();
            if (floats < MIN_FLOATS) return null;
            long fp = fingerprint(weight.data(), floats);
            Entry e = cache.get(weight);
            if (e != null) {
                if (e.fingerprint == fp && e.packed[0].n == n && e.packed[0].k == k) return e.packed;
                cache.remove(weight);
            }
            long bytes = parts * Gemm.packedFloats(n, k) * Float.BYTES;
            if (TOTAL.get() + bytes > BUDGET || freeMemory() < bytes + RESERVE) return null;
            Gemm.PackedB[] packed = pack.get();
            long b = 0;
            for (Gemm.PackedB p : packed) b += p.bytes();
            TOTAL.addAndGet(b);
            long total = b;
            CLEANER.register(packed, () -> TOTAL.addAndGet(-total));
            cache.put(weight, new Entry(packed, fp));
            return packed;
        }

        synchronized void clear() {
            map.clear();
            winograd.clear();
        }

        /** A hash of SAMPLES values spread over the tensor, the first and last included. */
        private static long fingerprint(MemorySegment data, long floats) {
            long h = floats;
            for (int i = 0; i < SAMPLES; i++) {
                long idx = (floats - 1) * i / (SAMPLES - 1);
                h = h * 0x9E3779B97F4A7C15L + Float.floatToRawIntBits(data.getAtIndex(HostFloats.F32_LE, idx));
            }
            return h;
        }
    }
}
