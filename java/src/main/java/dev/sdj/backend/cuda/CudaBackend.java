package dev.sdj.backend.cuda;

import static dev.sdj.backend.cuda.CudaChecks.dims;
import static dev.sdj.backend.cuda.CudaChecks.error;
import static dev.sdj.backend.cuda.CudaChecks.lastDim;
import static dev.sdj.backend.cuda.CudaChecks.requireDevice;
import static dev.sdj.backend.cuda.CudaChecks.requireNotNchw;
import static dev.sdj.backend.cuda.CudaChecks.requireRank;
import static dev.sdj.backend.cuda.CudaChecks.requireVector;

import dev.sdj.backend.Backend;
import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.SdjKernels;
import dev.sdj.bindings.cublas.cublas_h;
import dev.sdj.bindings.cudart.cudart_h;
import dev.sdj.bindings.cudnn.cudnn_h;
import dev.sdj.bindings.kernels.sdj_kernels_h;
import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.cuda.Cublas;
import dev.sdj.cuda.Cuda;
import dev.sdj.cuda.CudaDevice;
import dev.sdj.cuda.CudaStream;
import dev.sdj.cuda.Cudnn;
import dev.sdj.cuda.DataType;
import dev.sdj.cuda.DeviceBuffer;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The GPU backend: tensors in device memory in one compute dtype (fp16 by default, bf16 or fp32), all work on
 * one stream. Convolutions go to cuDNN (NHWC, fp32 accumulation, algorithm chosen once per shape), matrix
 * products and attention's two GEMMs to cuBLAS (fp32 accumulation), everything else to sdj's kernels
 * ({@code native/}), each of which has its CPU twin in {@code backend.cpu}.
 *
 * <p>Memory: see {@link DeviceArena}. Inside a {@link #scope()} (the sampling loop opens one per step) every
 * tensor comes from one arena and nothing is allocated after the first step; outside, each tensor is its own
 * allocation, freed when the backend closes. Arguments are checked ({@link CudaChecks}) before any launch;
 * every CUDA, cuBLAS, cuDNN and kernel status is checked and a failure names the call.
 *
 * <p>Not thread-safe: one backend per thread (it owns one stream and one cuBLAS and cuDNN handle).
 */
public final class CudaBackend implements Backend, dev.sdj.backend.StepIndexedOps {
    private final DType dtype;
    private final DataType type;
    private final CudaDevice device;
    private final CudaStream stream;
    private final Cublas blas;
    private final Cudnn dnn;
    private final DeviceArena memory = new DeviceArena();
    private final ConvPlans convPlans;
    private DeviceBuffer workspace;
    private DeviceBuffer staging;
    /** cuBLAS's own workspace, so that it never allocates inside a graph capture. */
    private final DeviceBuffer blasWorkspace;
    private final Arena hostScalars = Arena.ofShared();
    private final MemorySegment alpha = hostScalars.allocate(ValueLayout.JAVA_FLOAT);
    private final MemorySegment beta = hostScalars.allocate(ValueLayout.JAVA_FLOAT);
    private boolean closed;
    private boolean poison;

    /** Opens the CUDA backend on device 0 in {@code dtype} (F16, BF16 or F32). */
    public CudaBackend(DType dtype) {
        this.type = switch (dtype) {
            case F16 -> DataType.F16;
            case BF16 -> DataType.BF16;
            case F32 -> DataType.F32;
            default -> throw new IllegalArgumentException("the CUDA backend computes in F16, BF16 or F32, not " + dtype);
        };
        this.dtype = dtype;
        this.device = CudaDevice.get(0); // a clear NoCudaDeviceException when there is none
        SdjKernels.load();
        CudaStream s = null;
        Cublas b = null;
        Cudnn d = null;
        DeviceBuffer ws = null;
        try {
            s = CudaStream.create();
            b = Cublas.create(s);
            d = Cudnn.create(s);
            ws = DeviceBuffer.allocate(32L << 20);
            b.setWorkspace(ws);
        } catch (RuntimeException e) {
            if (ws != null) ws.close();
            if (d != null) d.close();
            if (b != null) b.close();
            if (s != null) s.close();
            throw e;
        }
        this.stream = s;
        this.blas = b;
        this.dnn = d;
        this.blasWorkspace = ws;
        this.convPlans = new ConvPlans(type);
    }

    public DType dtype() {
        return dtype;
    }

    public CudaDevice device() {
        return device;
    }

    /** The stream every op of this backend runs on. */
    public CudaStream stream() {
        return stream;
    }

    /** One line for benchmark headers: GPU, dtype, library versions and where they were loaded from. */
    public String describe() {
        return String.format(java.util.Locale.ROOT, "cuda, %s, %s; CUDA runtime %d, driver %d, cuBLAS %d, cuDNN %d (%s)",
                dtype, device, Cuda.runtimeVersion(), Cuda.driverVersion(), Cublas.version(), Cudnn.version(),
                CudaLibraries.loaded(CudaLibraries.Library.CUDNN).map(Object::toString).orElse("?"));
    }

    /** How the device memory is used now: the arena, the weights, the cuDNN workspace. */
    public String memoryUsage() {
        return memory.usage() + String.format(java.util.Locale.ROOT, ", workspace %.1f MiB, %d conv plans",
                (workspace == null ? 0 : workspace.byteSize()) / 1048576.0, convPlans.size());
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Scope scope() {
        return memory.open();
    }

    // ---- tensors and copies ----

    private Tensor alloc(Layout layout, int... shape) {
        return alloc(dtype, layout, shape);
    }

    private Tensor alloc(DType d, Layout layout, int... shape) {
        long bytes = Tensor.numel(shape) * d.byteSize();
        long address = memory.allocate(bytes);
        if (poison && bytes > 0) {
            Cuda.check(cudart_h.cudaMemsetAsync(MemorySegment.ofAddress(address), 0xff, bytes, stream.handle()),
                    "cudaMemsetAsync(poison)");
        }
        return new Tensor(MemorySegment.ofAddress(address), d, layout, Device.CUDA, shape);
    }

    /**
     * Fills every new tensor with 0xFF bytes (NaN in fp32, fp16 and bf16) before the op writes it, so a kernel
     * that leaves part of its output unwritten fails the comparison instead of passing on stale memory. Tests only.
     */
    public void setPoisonOutputs(boolean poison) {
        this.poison = poison;
    }

    private static MemorySegment ptr(Tensor t) {
        return t == null ? MemorySegment.NULL : t.data();
    }

    private static int code(DType d) {
        return switch (d) {
            case F32 -> sdj_kernels_h.SDJ_DTYPE_F32();
            case F16 -> sdj_kernels_h.SDJ_DTYPE_F16();
            case BF16 -> sdj_kernels_h.SDJ_DTYPE_BF16();
            default -> throw new IllegalArgumentException("no device kernels for " + d);
        };
    }

    private int code() {
        return code(dtype);
    }

    private static boolean isDeviceFloat(DType d) {
        return d == DType.F32 || d == DType.F16 || d == DType.BF16;
    }

    /** A kernel's status: a bad argument or a launch failure names the op and the shapes. */
    private static void launched(int status, String call) {
        Cuda.check(status, call);
    }

    /**
     * A device copy of a host tensor, converted to the compute dtype. fp32, fp16 and bf16 sources travel as
     * they are and are converted on the device (a 2.5 GB fp16 checkpoint is not widened on the host).
     */
    @Override
    public Tensor upload(Tensor host) {
        if (host == null) throw error("upload", "host is null");
        if (host.device() == Device.CUDA) return host.dtype() == dtype ? host : cast(host, dtype);
        Tensor src = isDeviceFloat(host.dtype()) ? host : host.to(DType.F32);
        Tensor out = alloc(host.layout(), host.shape());
        if (src.dtype() == dtype) {
            copyIn(src.data(), out.data().address(), src.byteSize());
        } else {
            long stage = staging(src.byteSize());
            copyIn(src.data(), stage, src.byteSize());
            launched(sdj_kernels_h.sdj_cast(MemorySegment.ofAddress(stage), code(src.dtype()), out.data(), code(),
                    src.numel(), stream.handle()), "sdj_cast(upload " + src.dtype() + dims(src) + " to " + dtype + ")");
            stream.synchronize(); // the staging buffer is reused by the next upload
        }
        return out;
    }

    /** A host fp32 copy. */
    @Override
    public Tensor download(Tensor t) {
        if (t == null) throw error("download", "t is null");
        if (t.device() != Device.CUDA) return t.dtype() == DType.F32 ? t : t.to(DType.F32);
        Tensor host = Tensor.zeros(t.dtype(), t.layout(), t.shape());
        if (host.byteSize() > 0) {
            withNative(host.data(), false, seg -> Cuda.check(cudart_h.cudaMemcpyAsync(seg, t.data(), host.byteSize(),
                    cudart_h.cudaMemcpyDeviceToHost(), stream.handle()), "cudaMemcpyAsync(download " + dims(t) + ")"));
        }
        return host.dtype() == DType.F32 ? host : host.to(DType.F32);
    }

    private void copyIn(MemorySegment src, long dstAddress, long bytes) {
        if (bytes == 0) return;
        withNative(src, true, seg -> Cuda.check(cudart_h.cudaMemcpyAsync(MemorySegment.ofAddress(dstAddress), seg, bytes,
                cudart_h.cudaMemcpyHostToDevice(), stream.handle()), "cudaMemcpyAsync(upload " + bytes + " bytes)"));
    }

    /** Runs a copy on native memory (staging a heap segment) and waits for it, so the host memory may go. */
    private void withNative(MemorySegment host, boolean in, java.util.function.Consumer<MemorySegment> copy) {
        if (host.isNative()) {
            copy.accept(host);
            stream.synchronize();
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(host.byteSize(), 64);
            if (in) s.copyFrom(host);
            copy.accept(s);
            stream.synchronize();
            if (!in) host.copyFrom(s);
        }
    }

    private long staging(long bytes) {
        if (staging == null || staging.byteSize() < bytes) {
            if (staging != null) staging.close();
            staging = null;
            staging = DeviceBuffer.allocate(Math.max(bytes, 16L << 20));
        }
        return staging.pointer().address();
    }

    private DeviceBuffer workspace(long bytes) {
        if (workspace == null || workspace.byteSize() < bytes) {
            stream.synchronize();
            if (workspace != null) workspace.close();
            workspace = null;
            workspace = DeviceBuffer.allocate(Math.max(bytes, 32L << 20));
        }
        return workspace;
    }

    @Override
    public Tensor empty(Layout layout, int... shape) {
        return alloc(layout, shape);
    }

    /** Device to device on the stream (cudaMemcpyAsync), shapes and dtypes checked. */
    @Override
    public void copy(Tensor src, Tensor dst) {
        requireDevice("copy", "src", src, dtype);
        requireDevice("copy", "dst", dst, dtype);
        if (!java.util.Arrays.equals(src.shape(), dst.shape())) throw error("copy", "src " + dims(src) + " and dst " + dims(dst) + " differ");
        if (src.byteSize() == 0) return;
        Cuda.check(cudart_h.cudaMemcpyAsync(dst.data(), src.data(), src.byteSize(), cudart_h.cudaMemcpyDeviceToDevice(),
                stream.handle()), "cudaMemcpyAsync(copy " + dims(src) + ")");
    }

    // ---- convolution and matrix products ----

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW) {
        String op = "conv2d";
        requireDevice(op, "x", x, dtype);
        requireDevice(op, "weight", weight, dtype);
        int[] out = CudaChecks.conv2dShape(x, weight, strideH, strideW, padH, padW);
        if (bias != null) {
            requireDevice(op, "bias", bias, dtype);
            requireVector(op, "bias", bias, weight.dim(0));
        }
        ConvPlans.Key key = new ConvPlans.Key(x.dim(0), x.dim(1), x.dim(2), x.dim(3), weight.dim(0), weight.dim(1),
                weight.dim(2), strideH, strideW, padH, padW);
        ConvPlans.Plan plan = convPlans.get(key);
        Tensor y = alloc(Layout.NHWC, out);
        if (plan.algorithm < 0) {
            DeviceBuffer ws = workspace(ConvPlans.WORKSPACE_LIMIT);
            convPlans.choose(dnn, plan, x.data(), weight.data(), y.data(), ws.pointer(), ws.byteSize());
        }
        DeviceBuffer ws = plan.workspaceBytes > 0 ? workspace(plan.workspaceBytes) : null;
        alpha.set(ValueLayout.JAVA_FLOAT, 0, 1f);
        beta.set(ValueLayout.JAVA_FLOAT, 0, 0f);
        Cudnn.check(cudnn_h.cudnnConvolutionForward(dnn.handle(), alpha, plan.x.handle(), x.data(), plan.w.handle(),
                weight.data(), plan.conv.handle(), plan.algorithm, ws == null ? MemorySegment.NULL : ws.pointer(),
                ws == null ? 0 : ws.byteSize(), beta, plan.y.handle(), y.data()),
                "cudnnConvolutionForward(x " + dims(x) + ", weight " + dims(weight) + ", algorithm " + plan.algorithm + ")");
        if (bias != null) {
            launched(sdj_kernels_h.sdj_bias_add(y.data(), bias.data(), (long) out[0] * out[1] * out[2], out[3], code(),
                    stream.handle()), "sdj_bias_add(conv2d " + dims(y) + ")");
        }
        return y;
    }

    /** y = x·Wᵀ + b over the last dim: x (…, in), weight (out, in), bias (out) or null. */
    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        String op = "linear";
        requireDevice(op, "x", x, dtype);
        requireDevice(op, "weight", weight, dtype);
        requireRank(op, "weight", weight, 2);
        int in = lastDim(op, x), outF = weight.dim(0);
        if (weight.dim(1) != in) throw error(op, "x " + dims(x) + " has " + in + " features, weight " + dims(weight) + " expects " + weight.dim(1));
        if (bias != null) {
            requireDevice(op, "bias", bias, dtype);
            requireVector(op, "bias", bias, outF);
        }
        long rows = x.numel() / Math.max(in, 1);
        int[] shape = x.shape();
        shape[shape.length - 1] = outF;
        Tensor y = alloc(x.layout() == Layout.NCHW ? Layout.PLAIN : x.layout(), shape);
        if (rows == 0 || outF == 0) return y;
        // Row-major y (rows, out) = x·Wᵀ is column-major yᵀ (out, rows) = W·xᵀ with W stored (in × out) column-major.
        gemm(true, false, outF, Math.toIntExact(rows), in, 1f, weight.data(), type, in, 0, x.data(), type, in, 0,
                0f, y.data(), type, outF, 0, 1, "linear x " + dims(x) + " weight " + dims(weight));
        if (bias != null) {
            launched(sdj_kernels_h.sdj_bias_add(y.data(), bias.data(), rows, outF, code(), stream.handle()),
                    "sdj_bias_add(linear " + dims(y) + ")");
        }
        return y;
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB, float alpha) {
        String op = "matmul";
        requireDevice(op, "a", a, dtype);
        requireDevice(op, "b", b, dtype);
        int[] s = CudaChecks.matmulShape(a, b, transA, transB);
        int batch = s[0], m = s[1], n = s[2], k = transA ? a.dim(1) : a.dim(2);
        Tensor c = alloc(Layout.PLAIN, batch, m, n);
        if (batch == 0 || m == 0 || n == 0) return c;
        // Row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: B first, each stored transposed already.
        int ldb = transB ? k : n, lda = transA ? m : k;
        gemm(transB, transA, n, m, k, alpha, b.data(), type, ldb, (long) k * n, a.data(), type, lda, (long) m * k,
                0f, c.data(), type, n, (long) m * n, batch, "matmul a " + dims(a) + " b " + dims(b));
        return c;
    }

    /** Column-major cublasGemmStridedBatchedEx (plain GemmEx for one) with fp32 accumulation. */
    private void gemm(boolean transA, boolean transB, int m, int n, int k, float alphaValue,
                      MemorySegment a, DataType aType, int lda, long strideA,
                      MemorySegment b, DataType bType, int ldb, long strideB,
                      float betaValue, MemorySegment c, DataType cType, int ldc, long strideC, int batch, String what) {
        alpha.set(ValueLayout.JAVA_FLOAT, 0, alphaValue);
        beta.set(ValueLayout.JAVA_FLOAT, 0, betaValue);
        int opA = transA ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N();
        int opB = transB ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N();
        int status = batch == 1
                ? cublas_h.cublasGemmEx(blas.handle(), opA, opB, m, n, k, alpha, a, aType.cudaCode(), lda, b, bType.cudaCode(),
                        ldb, beta, c, cType.cudaCode(), ldc, cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT())
                : cublas_h.cublasGemmStridedBatchedEx(blas.handle(), opA, opB, m, n, k, alpha, a, aType.cudaCode(), lda,
                        strideA, b, bType.cudaCode(), ldb, strideB, beta, c, cType.cudaCode(), ldc, strideC, batch,
                        cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT());
        Cublas.check(status, (batch == 1 ? "cublasGemmEx(" : "cublasGemmStridedBatchedEx(") + what + ", m=" + m + " n=" + n
                + " k=" + k + (batch == 1 ? "" : " batch=" + batch) + ")");
    }

    // ---- attention ----

    /**
     * Per batch item: scores = Q·Kᵀ for all heads in one strided-batched GEMM (fp32 out), softmax with 1/√D
     * folded in (fp32 statistics, CLIP's causal mask), then O = P·V in a second one, written straight into
     * the (B, Lq, H·Dv) output. Fused flash attention comes with the performance work.
     */
    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        String op = "attention";
        requireDevice(op, "q", q, dtype);
        requireDevice(op, "k", k, dtype);
        requireDevice(op, "v", v, dtype);
        int[] s = CudaChecks.attentionShape(q, k, v, heads);
        int batch = s[0], lq = s[1], lk = s[2], d = s[3], dv = s[4];
        Tensor out = alloc(Layout.PLAIN, batch, lq, heads * dv);
        if (batch == 0 || lq == 0 || heads * dv == 0) return out;
        if (lk == 0) throw error(op, "k " + dims(k) + " has no keys: softmax over nothing");
        long scoresPerItem = (long) heads * lq * lk;
        try (Scope temporaries = memory.open()) {
            long scores = memory.allocate(scoresPerItem * 4);
            long probs = type == DataType.F32 ? scores : memory.allocate(scoresPerItem * dtype.byteSize());
            int qkw = heads * d, vw = heads * dv;
            for (int bi = 0; bi < batch; bi++) {
                MemorySegment qb = offset(q, (long) bi * lq * qkw), kb = offset(k, (long) bi * lk * qkw);
                MemorySegment vb = offset(v, (long) bi * lk * vw), ob = offset(out, (long) bi * lq * vw);
                // Row-major S_h (Lq × Lk) = Q_h·K_hᵀ is column-major S_hᵀ (Lk × Lq) = K_h·Q_hᵀ; head h starts h·D in.
                gemm(true, false, lk, lq, d, 1f, kb, type, qkw, d, qb, type, qkw, d, 0f,
                        MemorySegment.ofAddress(scores), DataType.F32, lk, (long) lq * lk, heads, "attention Q·Kᵀ " + dims(q));
                launched(sdj_kernels_h.sdj_softmax(MemorySegment.ofAddress(scores), MemorySegment.ofAddress(scores),
                        (long) heads * lq, lk, (float) (1.0 / Math.sqrt(d)), causal ? lq : 0, sdj_kernels_h.SDJ_DTYPE_F32(),
                        stream.handle()), "sdj_softmax(attention " + heads + "x" + lq + "x" + lk + ")");
                if (probs != scores) {
                    launched(sdj_kernels_h.sdj_cast(MemorySegment.ofAddress(scores), sdj_kernels_h.SDJ_DTYPE_F32(),
                            MemorySegment.ofAddress(probs), code(), scoresPerItem, stream.handle()), "sdj_cast(attention probabilities)");
                }
                // Row-major O_h (Lq × Dv) = P_h·V_h is column-major O_hᵀ (Dv × Lq) = V_hᵀ·P_hᵀ, written at column h·Dv.
                gemm(false, false, dv, lq, lk, 1f, vb, type, vw, dv, MemorySegment.ofAddress(probs), type, lk,
                        (long) lq * lk, 0f, ob, type, vw, dv, heads, "attention P·V " + dims(v));
            }
        }
        return out;
    }

    private static MemorySegment offset(Tensor t, long elements) {
        return MemorySegment.ofAddress(t.data().address() + elements * t.dtype().byteSize());
    }

    // ---- normalisation ----

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        String op = "groupNorm";
        requireDevice(op, "x", x, dtype);
        requireRank(op, "x", x, 4);
        requireNotNchw(op, "x", x);
        int c = x.dim(3);
        if (groups < 1 || c % groups != 0) throw error(op, "channels " + c + " of x " + dims(x) + " do not split into " + groups + " groups");
        requireDevice(op, "gamma", gamma, dtype);
        requireDevice(op, "beta", beta, dtype);
        requireVector(op, "gamma", gamma, c);
        requireVector(op, "beta", beta, c);
        Tensor y = alloc(Layout.NHWC, x.shape());
        launched(sdj_kernels_h.sdj_group_norm(x.data(), y.data(), gamma.data(), beta.data(), x.dim(0),
                (long) x.dim(1) * x.dim(2), c, groups, eps, silu ? 1 : 0, code(), stream.handle()),
                "sdj_group_norm(x " + dims(x) + ", " + groups + " groups)");
        return y;
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        String op = "layerNorm";
        requireDevice(op, "x", x, dtype);
        int d = lastDim(op, x);
        if (gamma != null) {
            requireDevice(op, "gamma", gamma, dtype);
            requireVector(op, "gamma", gamma, d);
        }
        if (beta != null) {
            requireDevice(op, "beta", beta, dtype);
            requireVector(op, "beta", beta, d);
        }
        Tensor y = alloc(x.layout(), x.shape());
        long rows = d == 0 ? 0 : x.numel() / d;
        launched(sdj_kernels_h.sdj_layer_norm(x.data(), y.data(), ptr(gamma), ptr(beta), rows, d, eps, code(),
                stream.handle()), "sdj_layer_norm(x " + dims(x) + ")");
        return y;
    }

    @Override
    public Tensor softmax(Tensor x) {
        String op = "softmax";
        requireDevice(op, "x", x, dtype);
        int d = lastDim(op, x);
        Tensor y = alloc(x.layout(), x.shape());
        long rows = d == 0 ? 0 : x.numel() / d;
        launched(sdj_kernels_h.sdj_softmax(x.data(), y.data(), rows, d, 1f, 0, code(), stream.handle()),
                "sdj_softmax(x " + dims(x) + ")");
        return y;
    }

    // ---- activations ----

    private Tensor activation(String op, Tensor x, int act) {
        requireDevice(op, "x", x, dtype);
        Tensor y = alloc(x.layout(), x.shape());
        launched(sdj_kernels_h.sdj_activation(x.data(), y.data(), x.numel(), act, code(), stream.handle()),
                "sdj_activation(" + op + " " + dims(x) + ")");
        return y;
    }

    @Override
    public Tensor silu(Tensor x) {
        return activation("silu", x, sdj_kernels_h.SDJ_ACT_SILU());
    }

    @Override
    public Tensor gelu(Tensor x, boolean tanhApproximation) {
        return activation("gelu", x, tanhApproximation ? sdj_kernels_h.SDJ_ACT_GELU_TANH() : sdj_kernels_h.SDJ_ACT_GELU_ERF());
    }

    @Override
    public Tensor quickGelu(Tensor x) {
        return activation("quickGelu", x, sdj_kernels_h.SDJ_ACT_QUICK_GELU());
    }

    @Override
    public Tensor geglu(Tensor x) {
        String op = "geglu";
        requireDevice(op, "x", x, dtype);
        int w = lastDim(op, x);
        if (w % 2 != 0) throw error(op, "last dim of x " + dims(x) + " must be even (value and gate halves)");
        int[] shape = x.shape();
        shape[shape.length - 1] = w / 2;
        Tensor y = alloc(x.layout(), shape);
        long rows = w == 0 ? 0 : x.numel() / w;
        launched(sdj_kernels_h.sdj_geglu(x.data(), y.data(), rows, w / 2, code(), stream.handle()), "sdj_geglu(x " + dims(x) + ")");
        return y;
    }

    // ---- resampling and layout ----

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        String op = "upsampleNearest";
        requireDevice(op, "x", x, dtype);
        requireRank(op, "x", x, 4);
        requireNotNchw(op, "x", x);
        if (outH < 1 || outW < 1) throw error(op, "output size " + outH + "x" + outW + " must be positive");
        Tensor y = alloc(Layout.NHWC, x.dim(0), outH, outW, x.dim(3));
        launched(sdj_kernels_h.sdj_upsample_nearest(x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), outH, outW,
                code(), stream.handle()), "sdj_upsample_nearest(x " + dims(x) + " to " + outH + "x" + outW + ")");
        return y;
    }

    @Override
    public Tensor pad2d(Tensor x, int top, int bottom, int left, int right) {
        String op = "pad2d";
        requireDevice(op, "x", x, dtype);
        requireRank(op, "x", x, 4);
        requireNotNchw(op, "x", x);
        if (top < 0 || bottom < 0 || left < 0 || right < 0) throw error(op, "negative padding");
        Tensor y = alloc(Layout.NHWC, x.dim(0), x.dim(1) + top + bottom, x.dim(2) + left + right, x.dim(3));
        launched(sdj_kernels_h.sdj_pad2d(x.data(), y.data(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), top, bottom, left, right,
                code(), stream.handle()), "sdj_pad2d(x " + dims(x) + ")");
        return y;
    }

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        String op = "concatChannels";
        requireDevice(op, "a", a, dtype);
        requireDevice(op, "b", b, dtype);
        int ca = lastDim(op, a), cb = lastDim(op, b);
        boolean sameLeading = a.rank() == b.rank();
        for (int d = 0; sameLeading && d < a.rank() - 1; d++) sameLeading = a.dim(d) == b.dim(d);
        if (!sameLeading) throw error(op, "a " + dims(a) + " and b " + dims(b) + " must agree in every dim but the last");
        int[] shape = a.shape();
        shape[shape.length - 1] = ca + cb;
        Tensor y = alloc(a.layout(), shape);
        long rows = Tensor.numel(shape) / Math.max(1, ca + cb);
        launched(sdj_kernels_h.sdj_concat_channels(a.data(), b.data(), y.data(), rows, ca, cb, code(), stream.handle()),
                "sdj_concat_channels(a " + dims(a) + ", b " + dims(b) + ")");
        return y;
    }

    @Override
    public Tensor nchwToNhwc(Tensor x) {
        String op = "nchwToNhwc";
        requireDevice(op, "x", x, dtype);
        requireRank(op, "x", x, 4);
        Tensor y = alloc(Layout.NHWC, x.dim(0), x.dim(2), x.dim(3), x.dim(1));
        launched(sdj_kernels_h.sdj_nchw_to_nhwc(x.data(), y.data(), x.dim(0), x.dim(1), (long) x.dim(2) * x.dim(3), code(),
                stream.handle()), "sdj_nchw_to_nhwc(x " + dims(x) + ")");
        return y;
    }

    @Override
    public Tensor nhwcToNchw(Tensor x) {
        String op = "nhwcToNchw";
        requireDevice(op, "x", x, dtype);
        requireRank(op, "x", x, 4);
        Tensor y = alloc(Layout.NCHW, x.dim(0), x.dim(3), x.dim(1), x.dim(2));
        launched(sdj_kernels_h.sdj_nhwc_to_nchw(x.data(), y.data(), x.dim(0), (long) x.dim(1) * x.dim(2), x.dim(3), code(),
                stream.handle()), "sdj_nhwc_to_nchw(x " + dims(x) + ")");
        return y;
    }

    /** OIHW (PyTorch's conv weight) → OHWI, the same permutation as NCHW → NHWC with N = O, C = I. */
    @Override
    public Tensor convWeight(Tensor oihw) {
        String op = "convWeight";
        Tensor w = oihw.device() == Device.CUDA ? oihw : upload(oihw);
        requireDevice(op, "weight", w, dtype);
        requireRank(op, "weight", w, 4);
        if (w.layout() == Layout.OHWI) return w;
        Tensor y = alloc(Layout.OHWI, w.dim(0), w.dim(2), w.dim(3), w.dim(1));
        launched(sdj_kernels_h.sdj_nchw_to_nhwc(w.data(), y.data(), w.dim(0), w.dim(1), (long) w.dim(2) * w.dim(3), code(),
                stream.handle()), "sdj_nchw_to_nhwc(convWeight " + dims(w) + ")");
        return y;
    }

    // ---- elementwise arithmetic ----

    private Tensor binary(String op, Tensor a, Tensor b, int code) {
        requireDevice(op, "a", a, dtype);
        requireDevice(op, "b", b, dtype);
        long[] bShape = CudaChecks.broadcastShape(op, a, b);
        Tensor y = alloc(a.layout(), a.shape());
        try (Arena arena = Arena.ofConfined()) {
            long[] aShape = new long[a.rank()];
            for (int i = 0; i < aShape.length; i++) aShape[i] = a.dim(i);
            MemorySegment as = arena.allocateFrom(ValueLayout.JAVA_LONG, aShape.length == 0 ? new long[] {1} : aShape);
            MemorySegment bs = arena.allocateFrom(ValueLayout.JAVA_LONG, bShape.length == 0 ? new long[] {1} : bShape);
            launched(sdj_kernels_h.sdj_binary(a.data(), b.data(), y.data(), Math.max(1, a.rank()), as, bs, code, code(),
                    stream.handle()), "sdj_binary(" + op + " a " + dims(a) + ", b " + dims(b) + ")");
        }
        return y;
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("add", a, b, sdj_kernels_h.SDJ_BINARY_ADD());
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        return binary("mul", a, b, sdj_kernels_h.SDJ_BINARY_MUL());
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        requireDevice("scale", "x", x, dtype);
        Tensor y = alloc(x.layout(), x.shape());
        launched(sdj_kernels_h.sdj_scale(x.data(), y.data(), x.numel(), s, code(), stream.handle()), "sdj_scale(x " + dims(x) + ")");
        return y;
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift,
                                    float scale, float maxPeriod) {
        String op = "timestepEmbedding";
        if (timesteps == null) throw error(op, "timesteps is null");
        if (dim < 1) throw error(op, "dim " + dim + " must be >= 1");
        int half = dim / 2;
        if (half > 0 && half - downscaleFreqShift == 0f) {
            throw error(op, "dim/2 - downscaleFreqShift = " + half + " - " + downscaleFreqShift + " is 0");
        }
        Tensor y = alloc(Layout.PLAIN, timesteps.length, dim);
        if (timesteps.length == 0) return y;
        try (Scope temporaries = memory.open()) {
            long t = memory.allocate(4L * timesteps.length);
            copyIn(MemorySegment.ofArray(timesteps), t, 4L * timesteps.length);
            launched(sdj_kernels_h.sdj_timestep_embedding(MemorySegment.ofAddress(t), y.data(), timesteps.length, dim,
                    flipSinToCos ? 1 : 0, downscaleFreqShift, scale, maxPeriod, code(), stream.handle()),
                    "sdj_timestep_embedding(" + timesteps.length + " x " + dim + ")");
        }
        return y;
    }

    @Override
    public Tensor cast(Tensor x, DType to) {
        String op = "cast";
        if (x == null) throw error(op, "x is null");
        if (to == null) throw error(op, "dtype is null");
        if (x.device() != Device.CUDA) throw error(op, "x " + dims(x) + " is a host tensor; upload() it first");
        if (!isDeviceFloat(x.dtype()) || !isDeviceFloat(to)) throw error(op, "the GPU casts between F32, F16 and BF16, not " + x.dtype() + " to " + to);
        Tensor y = alloc(to, x.layout(), x.shape());
        launched(sdj_kernels_h.sdj_cast(x.data(), code(x.dtype()), y.data(), code(to), x.numel(), stream.handle()),
                "sdj_cast(" + x.dtype() + dims(x) + " to " + to + ")");
        return y;
    }

    /** The number of NaN or ±Inf elements of a device tensor (waits for the GPU). */
    public long countNonFinite(Tensor x) {
        requireDevice("countNonFinite", "x", x, x.dtype());
        try (Scope temporaries = memory.open(); Arena arena = Arena.ofConfined()) {
            long count = memory.allocate(8);
            launched(sdj_kernels_h.sdj_count_nonfinite(x.data(), x.numel(), code(x.dtype()), MemorySegment.ofAddress(count),
                    stream.handle()), "sdj_count_nonfinite(x " + dims(x) + ")");
            MemorySegment host = arena.allocate(ValueLayout.JAVA_LONG);
            Cuda.check(cudart_h.cudaMemcpyAsync(host, MemorySegment.ofAddress(count), 8, cudart_h.cudaMemcpyDeviceToHost(),
                    stream.handle()), "cudaMemcpyAsync(non-finite count)");
            stream.synchronize();
            return host.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    // ---- step-indexed ops (a graph-captured sampling step) ----

    private record DeviceStepTable(long coefficients, long counter, int steps, int basis) implements StepTable {}

    @Override
    public StepTable stepTable(float[][] rows) {
        int steps = rows.length, nb = steps == 0 ? 0 : rows[0].length;
        float[] flat = new float[steps * nb];
        for (int i = 0; i < steps; i++) {
            if (rows[i].length != nb) throw error("stepTable", "rows of " + rows[i].length + " and " + nb + " coefficients");
            System.arraycopy(rows[i], 0, flat, i * nb, nb);
        }
        long coefficients = memory.allocate(4L * Math.max(1, flat.length)), counter = memory.allocate(8);
        copyIn(MemorySegment.ofArray(flat), coefficients, 4L * flat.length);
        Cuda.check(cudart_h.cudaMemsetAsync(MemorySegment.ofAddress(counter), 0, 8, stream.handle()), "cudaMemsetAsync(step counter)");
        return new DeviceStepTable(coefficients, counter, steps, nb);
    }

    private static DeviceStepTable table(StepTable t) {
        if (t instanceof DeviceStepTable d) return d;
        throw new IllegalArgumentException("a step table of another backend");
    }

    @Override
    public Tensor linearCombinationAt(StepTable t, Tensor basis, int batch) {
        DeviceStepTable d = table(t);
        requireDevice("linearCombinationAt", "basis", basis, dtype);
        if (batch < 1 || basis.dim(0) != d.basis() * batch) {
            throw error("linearCombinationAt", "basis " + dims(basis) + " is not " + d.basis() + " entries of batch " + batch);
        }
        int[] shape = basis.shape();
        shape[0] = batch;
        Tensor y = alloc(basis.layout(), shape);
        launched(sdj_kernels_h.sdj_lincomb_indexed(MemorySegment.ofAddress(d.coefficients()), MemorySegment.ofAddress(d.counter()),
                basis.data(), d.basis(), y.numel(), y.data(), code(), stream.handle()), "sdj_lincomb_indexed(" + dims(basis) + ")");
        return y;
    }

    @Override
    public Tensor rowsAt(StepTable t, Tensor rows, int rowsPerStep) {
        DeviceStepTable d = table(t);
        requireDevice("rowsAt", "rows", rows, dtype);
        if (rowsPerStep < 1 || rows.dim(0) != d.steps() * rowsPerStep) {
            throw error("rowsAt", "rows " + dims(rows) + " are not " + d.steps() + " steps of " + rowsPerStep);
        }
        int[] shape = rows.shape();
        shape[0] = rowsPerStep;
        Tensor y = alloc(rows.layout(), shape);
        launched(sdj_kernels_h.sdj_gather_indexed(rows.data(), MemorySegment.ofAddress(d.counter()), y.numel(), y.data(), code(),
                stream.handle()), "sdj_gather_indexed(" + dims(rows) + ")");
        return y;
    }

    @Override
    public void copyToRowsAt(StepTable t, Tensor src, Tensor rows) {
        DeviceStepTable d = table(t);
        requireDevice("copyToRowsAt", "src", src, dtype);
        requireDevice("copyToRowsAt", "rows", rows, dtype);
        if (rows.dim(0) != d.steps() * src.dim(0) || rows.numel() != (long) d.steps() * src.numel()) {
            throw error("copyToRowsAt", "rows " + dims(rows) + " are not " + d.steps() + " steps of " + dims(src));
        }
        launched(sdj_kernels_h.sdj_scatter_indexed(src.data(), MemorySegment.ofAddress(d.counter()), src.numel(), rows.data(), code(),
                stream.handle()), "sdj_scatter_indexed(" + dims(src) + ")");
    }

    @Override
    public void advance(StepTable t) {
        launched(sdj_kernels_h.sdj_increment(MemorySegment.ofAddress(table(t).counter()), stream.handle()), "sdj_increment");
    }

    /** Captured steps by key and arena position; cleared when the arena moves. Bounded: a service sees few shapes. */
    private final java.util.LinkedHashMap<java.util.List<Object>, dev.sdj.cuda.CudaGraph> graphs = new java.util.LinkedHashMap<>();
    private static final int MAX_GRAPHS = 8;

    @Override
    public StepGraph capture(Object key, Runnable step) {
        java.util.List<Long> position = memory.position();
        if (key == null || position == null) {
            dev.sdj.cuda.CudaGraph graph = captureNow(step);
            return stepGraph(graph, true);
        }
        // Graphs of an older arena point at memory that is gone: free them.
        graphs.entrySet().removeIf(e -> {
            boolean stale = !((java.util.List<?>) e.getKey().get(1)).get(0).equals(position.get(0));
            if (stale) e.getValue().close();
            return stale;
        });
        java.util.List<Object> k = java.util.List.of(key, position);
        dev.sdj.cuda.CudaGraph graph = graphs.get(k);
        if (graph == null) {
            graph = captureNow(step);
            graphs.put(k, graph);
            if (graphs.size() > MAX_GRAPHS) {
                var eldest = graphs.entrySet().iterator().next();
                eldest.getValue().close();
                graphs.remove(eldest.getKey());
            }
        } else {
            cachedGraphHits++;
        }
        return stepGraph(graph, false);
    }

    private long cachedGraphHits;

    /** How many runs replayed a step graph captured by an earlier run (for benchmarks and tests). */
    public long cachedGraphHits() {
        return cachedGraphHits;
    }

    private dev.sdj.cuda.CudaGraph captureNow(Runnable step) {
        dev.sdj.cuda.CudaGraph graph = dev.sdj.cuda.CudaGraph.capture(stream, step);
        graph.upload(stream);
        return graph;
    }

    private StepGraph stepGraph(dev.sdj.cuda.CudaGraph graph, boolean owned) {
        return new StepGraph() {
            @Override
            public void launch() {
                graph.launch(stream);
            }

            @Override
            public void close() {
                if (owned) graph.close();
            }
        };
    }

    /** Waits for all queued work and reports an asynchronous error of it. */
    public void synchronize() {
        stream.synchronize();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            stream.synchronize();
        } finally {
            for (dev.sdj.cuda.CudaGraph g : graphs.values()) g.close();
            graphs.clear();
            convPlans.close();
            memory.close();
            if (workspace != null) workspace.close();
            if (staging != null) staging.close();
            dnn.close();
            blas.close();
            blasWorkspace.close();
            stream.close();
            hostScalars.close();
        }
    }
}
