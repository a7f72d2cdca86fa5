package dev.sdj.cuda;

import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.cublas.cublas_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A cuBLAS handle bound to one stream. Matrices are column-major, as in cuBLAS; every GEMM checks that the
 * buffers hold the matrices their shapes and leading dimensions describe, and accumulates in fp32.
 * Not thread-safe: one handle per thread (cuBLAS' rule too).
 */
public final class Cublas extends OwnedHandle {
    private final Arena scalars = Arena.ofShared();
    private final MemorySegment alpha = scalars.allocate(ValueLayout.JAVA_FLOAT);
    private final MemorySegment beta = scalars.allocate(ValueLayout.JAVA_FLOAT);
    private DeviceBuffer workspace;

    private Cublas(MemorySegment handle) {
        super(handle);
    }

    /** Loads libcublas (and libcublasLt) and creates a handle whose work goes to {@code stream}. */
    public static Cublas create(CudaStream stream) {
        load();
        Cublas c = new Cublas(Cuda.createHandle("cublasCreate_v2", out -> cublas_h.cublasCreate_v2(out), Cublas::check));
        try {
            c.setStream(stream);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    static void load() {
        Cuda.load();
        CudaLibraries.load(CudaLibraries.Library.CUBLAS);
    }

    /** The loaded cuBLAS' version as major·10000 + minor·100 + patch; needs no device. */
    public static int version() {
        load();
        int major = property(cublas_h.MAJOR_VERSION()), minor = property(cublas_h.MINOR_VERSION());
        return major * 10000 + minor * 100 + property(cublas_h.PATCH_LEVEL());
    }

    private static int property(int which) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            check(cublas_h.cublasGetProperty(which, out), "cublasGetProperty");
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    public void setStream(CudaStream stream) {
        check(cublas_h.cublasSetStream_v2(handle(), stream.handle()), "cublasSetStream_v2");
    }

    /** cublasMath_t, e.g. {@code cublas_h.CUBLAS_TF32_TENSOR_OP_MATH()} to let fp32 GEMMs use TF32. */
    public void setMathMode(int mode) {
        check(cublas_h.cublasSetMathMode(handle(), mode), "cublasSetMathMode");
    }

    /**
     * Gives cuBLAS its workspace (needed for graph capture, where it must not allocate). The buffer must stay
     * open while this handle is used; {@code null} returns to cuBLAS' own.
     */
    public void setWorkspace(DeviceBuffer buffer) {
        MemorySegment p = buffer == null ? MemorySegment.NULL : buffer.pointer();
        long n = buffer == null ? 0 : buffer.byteSize();
        check(cublas_h.cublasSetWorkspace_v2(handle(), p, n), "cublasSetWorkspace_v2");
        workspace = buffer;
    }

    /**
     * C = alpha·op(A)·op(B) + beta·C (cublasGemmEx, fp32 accumulation). op(A) is m×k, op(B) k×n, C m×n, all
     * column-major with leading dimensions lda, ldb, ldc.
     */
    public void gemm(boolean transA, boolean transB, int m, int n, int k,
                     float alpha, DeviceBuffer a, DataType aType, int lda,
                     DeviceBuffer b, DataType bType, int ldb,
                     float beta, DeviceBuffer c, DataType cType, int ldc) {
        checkMatrix("A", a, aType, transA ? k : m, transA ? m : k, lda, 0, 1);
        checkMatrix("B", b, bType, transB ? n : k, transB ? k : n, ldb, 0, 1);
        checkMatrix("C", c, cType, m, n, ldc, 0, 1);
        this.alpha.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        this.beta.set(ValueLayout.JAVA_FLOAT, 0, beta);
        check(cublas_h.cublasGemmEx(handle(), op(transA), op(transB), m, n, k, this.alpha, a.pointer(), aType.cudaCode(),
                lda, b.pointer(), bType.cudaCode(), ldb, this.beta, c.pointer(), cType.cudaCode(), ldc,
                cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT()),
                "cublasGemmEx(m=" + m + ", n=" + n + ", k=" + k + ")");
    }

    /** {@link #gemm} over {@code batch} matrices at fixed element strides (cublasGemmStridedBatchedEx). */
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k,
                                   float alpha, DeviceBuffer a, DataType aType, int lda, long strideA,
                                   DeviceBuffer b, DataType bType, int ldb, long strideB,
                                   float beta, DeviceBuffer c, DataType cType, int ldc, long strideC, int batch) {
        checkMatrix("A", a, aType, transA ? k : m, transA ? m : k, lda, strideA, batch);
        checkMatrix("B", b, bType, transB ? n : k, transB ? k : n, ldb, strideB, batch);
        checkMatrix("C", c, cType, m, n, ldc, strideC, batch);
        this.alpha.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        this.beta.set(ValueLayout.JAVA_FLOAT, 0, beta);
        check(cublas_h.cublasGemmStridedBatchedEx(handle(), op(transA), op(transB), m, n, k, this.alpha, a.pointer(),
                aType.cudaCode(), lda, strideA, b.pointer(), bType.cudaCode(), ldb, strideB, this.beta, c.pointer(),
                cType.cudaCode(), ldc, strideC, batch, cublas_h.CUBLAS_COMPUTE_32F(), cublas_h.CUBLAS_GEMM_DEFAULT()),
                "cublasGemmStridedBatchedEx(m=" + m + ", n=" + n + ", k=" + k + ", batch=" + batch + ")");
    }

    private static int op(boolean trans) {
        return trans ? cublas_h.CUBLAS_OP_T() : cublas_h.CUBLAS_OP_N();
    }

    /** A stored rows×cols column-major matrix (per batch entry) with leading dimension ld must fit the buffer. */
    static void checkMatrix(String name, DeviceBuffer buf, DataType type, int rows, int cols, int ld, long stride,
                            int batch) {
        if (rows < 0 || cols < 0 || batch < 0) {
            throw new IllegalArgumentException("matrix " + name + ": negative size " + rows + "x" + cols + " x" + batch);
        }
        if (ld < Math.max(1, rows)) {
            throw new IllegalArgumentException("matrix " + name + ": leading dimension " + ld + " < rows " + rows);
        }
        if (rows == 0 || cols == 0 || batch == 0) return;
        long elements = (long) (cols - 1) * ld + rows + (long) (batch - 1) * stride;
        if (elements * type.bytes() > buf.byteSize()) {
            throw new IndexOutOfBoundsException("matrix " + name + " (" + rows + "x" + cols + ", ld " + ld
                    + (batch > 1 ? ", " + batch + " at stride " + stride : "") + ", " + type + ") needs "
                    + elements * type.bytes() + " bytes; " + buf + " is smaller");
        }
    }

    /** Throws a {@link CudaException} with cuBLAS' status name and sentence. */
    public static void check(int status, String call) {
        if (status == cublas_h.CUBLAS_STATUS_SUCCESS()) return;
        throw new CudaException(call, status, Cuda.cString(cublas_h.cublasGetStatusName(status)),
                Cuda.cString(cublas_h.cublasGetStatusString(status)));
    }

    @Override
    void destroy(MemorySegment h) {
        try {
            check(cublas_h.cublasDestroy_v2(h), "cublasDestroy_v2");
        } finally {
            scalars.close();
            workspace = null;
        }
    }

    @Override
    public String toString() {
        return "Cublas handle";
    }
}
