package dev.sdj.it;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.CudaLibraries.Library;
import dev.sdj.bindings.SdjKernels;
import dev.sdj.bindings.cudnn.cudnn_h;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.cuda.Cublas;
import dev.sdj.cuda.Cuda;
import dev.sdj.cuda.CudaDevice;
import dev.sdj.cuda.CudaEvent;
import dev.sdj.cuda.CudaException;
import dev.sdj.cuda.CudaGraph;
import dev.sdj.cuda.CudaStream;
import dev.sdj.cuda.Cudnn;
import dev.sdj.cuda.DataType;
import dev.sdj.cuda.DeviceBuffer;
import dev.sdj.cuda.DeviceOutOfMemoryException;
import dev.sdj.cuda.PinnedHostBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The safe handles on a real GPU: memory round trips, lifetimes, out-of-memory, one cuBLAS GEMM and one cuDNN
 * convolution against the CPU backend, events, a CUDA graph and an sdj kernel. Skipped, with the reason, on a
 * machine without a CUDA device (CI).
 */
class CudaHandlesGpuTest {
    private static final Random RND = new Random(7);
    private static CudaStream stream;
    private final CpuBackend cpu = new CpuBackend();

    @BeforeAll
    static void needsDevice() {
        assumeTrue(CudaLibraries.isAvailable(Library.CUDART), "no CUDA runtime (libcudart.so.13) on this machine");
        assumeTrue(Cuda.deviceCount() > 0, () -> "no CUDA device: " + Cuda.noDeviceReason().getMessage());
        stream = CudaStream.create();
    }

    @AfterAll
    static void closeStream() {
        if (stream != null) stream.close();
    }

    @Test
    void deviceReportsItsProperties() {
        CudaDevice d = CudaDevice.get(0);
        System.out.println(d + ", CUDA runtime " + Cuda.runtimeVersion() + ", driver " + Cuda.driverVersion());
        assertFalse(d.name().isBlank());
        assertTrue(d.multiProcessorCount() > 0 && d.totalMemory() > (1L << 30), d.toString());
        CudaDevice.MemoryInfo m = CudaDevice.memoryInfo();
        assertTrue(m.freeBytes() > 0 && m.freeBytes() <= m.totalBytes(), m.toString());
    }

    @Test
    void hostToDeviceToHostSyncAsyncAndThroughSlices() {
        float[] v = random(1001);
        MemorySegment host = MemorySegment.ofArray(v);
        float[] back = new float[v.length];
        try (DeviceBuffer d = DeviceBuffer.allocate(v.length * 4L)) {
            d.copyFromHost(host);
            d.copyToHost(MemorySegment.ofArray(back));
            assertArrayEquals(v, back);

            try (PinnedHostBuffer pinned = PinnedHostBuffer.allocate(400); DeviceBuffer d2 = DeviceBuffer.allocate(400)) {
                MemorySegment.copy(host, 0, pinned.segment(), 0, 400);
                d2.copyFromHostAsync(pinned.segment(), stream);
                pinned.segment().fill((byte) 0);
                d2.copyToHostAsync(pinned.segment(), stream);
                stream.synchronize();
                assertArrayEquals(java.util.Arrays.copyOf(v, 100), pinned.segment().toArray(ValueLayout.JAVA_FLOAT));
            }

            DeviceBuffer tail = d.slice(4 * 1000, 4);
            tail.copyFromHost(MemorySegment.ofArray(new float[] {42f}));
            float[] one = new float[1];
            d.copyToHost(MemorySegment.ofArray(one), 4 * 1000);
            assertTrue(one[0] == 42f);
        }
    }

    @Test
    void useAfterCloseAndOversizedCopiesAreExceptions() {
        DeviceBuffer d = DeviceBuffer.allocate(256);
        DeviceBuffer view = d.slice(128, 64);
        assertThrows(IndexOutOfBoundsException.class, () -> d.copyFromHost(MemorySegment.ofArray(new byte[257])));
        assertThrows(IndexOutOfBoundsException.class, () -> d.slice(200, 100));
        d.close();
        assertDoesNotThrow(d::close);
        assertThrows(IllegalStateException.class, d::pointer);
        assertThrows(IllegalStateException.class, view::pointer);
        assertThrows(IllegalStateException.class, () -> d.copyToHost(MemorySegment.ofArray(new byte[16])));
        CudaStream s = CudaStream.create();
        s.close();
        assertThrows(IllegalStateException.class, s::synchronize);
        PinnedHostBuffer p = PinnedHostBuffer.allocate(64);
        p.close();
        assertThrows(IllegalStateException.class, () -> p.segment().get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void outOfMemoryIsAClearErrorAndLeaksNothing() {
        long before = CudaDevice.memoryInfo().freeBytes();
        long tooMuch = CudaDevice.memoryInfo().totalBytes() * 2;
        DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class, () -> DeviceBuffer.allocate(tooMuch));
        assertTrue(e.getMessage().contains("out of device memory") && e.getMessage().contains("free of"), e.getMessage());
        try (DeviceBuffer ok = DeviceBuffer.allocate(1 << 20)) {
            ok.fill((byte) 1); // the context is still usable
        }
        long after = CudaDevice.memoryInfo().freeBytes();
        assertTrue(Math.abs(before - after) < (64L << 20), "free memory " + before + " before, " + after + " after");
    }

    @Test
    void cublasGemmMatchesCpuBackend() {
        int m = 37, k = 29, n = 53;
        float[] a = random(m * k), b = random(k * n);
        float[] expected = cpu.matmul(Tensor.of(a, 1, m, k), Tensor.of(b, 1, k, n), false, false, 1f).toFloatArray();
        try (Cublas blas = Cublas.create(stream); DeviceBuffer da = upload(a); DeviceBuffer db = upload(b);
             DeviceBuffer dc = DeviceBuffer.allocate(4L * m * n)) {
            dc.fill((byte) 0xff); // NaN poison: an untouched element fails the comparison
            // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: swap the operands, no transposes.
            blas.gemm(false, false, n, m, k, 1f, db, DataType.F32, n, da, DataType.F32, k, 0f, dc, DataType.F32, n);
            assertClose("cublasGemmEx fp32", expected, download(dc, m * n), 1e-5);

            try (DeviceBuffer ha = upload16(a); DeviceBuffer hb = upload16(b)) {
                float[] expected16 = cpu.matmul(Tensor.of(round16(a), 1, m, k), Tensor.of(round16(b), 1, k, n),
                        false, false, 1f).toFloatArray();
                blas.gemm(false, false, n, m, k, 1f, hb, DataType.F16, n, ha, DataType.F16, k, 0f, dc, DataType.F32, n);
                assertClose("cublasGemmEx fp16 in, fp32 out", expected16, download(dc, m * n), 1e-5);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> blas.gemm(false, false, n, m, k + 1, 1f, db, DataType.F32,
                    n, da, DataType.F32, k + 1, 0f, dc, DataType.F32, n));
        }
    }

    @Test
    void cublasStridedBatchedGemmMatchesCpuBackend() {
        int batch = 3, m = 11, k = 17, n = 9;
        float[] a = random(batch * m * k), b = random(batch * n * k);
        float[] expected = cpu.matmul(Tensor.of(a, batch, m, k), Tensor.of(b, batch, n, k), false, true, 0.5f).toFloatArray();
        try (Cublas blas = Cublas.create(stream); DeviceBuffer da = upload(a); DeviceBuffer db = upload(b);
             DeviceBuffer dc = DeviceBuffer.allocate(4L * batch * m * n)) {
            dc.fill((byte) 0xff);
            // Row-major C = A·Bᵀ: column-major Cᵀ = B·Aᵀ = op_T(Bᵀ-stored)… i.e. transA=true on B's storage.
            blas.gemmStridedBatched(true, false, n, m, k, 0.5f, db, DataType.F32, k, (long) n * k, da, DataType.F32, k,
                    (long) m * k, 0f, dc, DataType.F32, n, (long) m * n, batch);
            assertClose("cublasGemmStridedBatchedEx", expected, download(dc, batch * m * n), 1e-5);
        }
    }

    @Test
    void cudnnConvolutionMatchesCpuBackend() {
        int n = 2, h = 13, w = 11, cin = 7, cout = 5;
        for (int stride : new int[] {1, 2}) {
            float[] x = random(n * h * w * cin), wt = random(cout * 3 * 3 * cin);
            float[] expected = cpu.conv2d(Tensor.of(x, Layout.NHWC, n, h, w, cin), Tensor.of(wt, Layout.OHWI, cout, 3, 3, cin),
                    null, stride, 1).toFloatArray();
            try (Cudnn dnn = Cudnn.create(stream);
                 Cudnn.TensorDescriptor xd = new Cudnn.TensorDescriptor(DataType.F32, true, n, cin, h, w);
                 Cudnn.FilterDescriptor wd = new Cudnn.FilterDescriptor(DataType.F32, true, cout, cin, 3, 3);
                 Cudnn.ConvolutionDescriptor cd = new Cudnn.ConvolutionDescriptor(1, 1, stride, stride, 1, 1, 1)) {
                cd.setMathType(cudnn_h.CUDNN_FMA_MATH()); // exact fp32, to compare tightly with the CPU
                int[] out = Cudnn.outputShape(cd, xd, wd);
                try (Cudnn.TensorDescriptor yd = new Cudnn.TensorDescriptor(DataType.F32, true, out[0], out[1], out[2], out[3]);
                     DeviceBuffer dx = upload(x); DeviceBuffer dw = upload(wt);
                     DeviceBuffer dy = DeviceBuffer.allocate(yd.byteSize())) {
                    List<Cudnn.AlgorithmPerf> ranked = dnn.rankForwardAlgorithms(xd, wd, cd, yd);
                    assertFalse(ranked.isEmpty(), "cuDNN proposes no algorithm");
                    int algo = ranked.get(0).algorithm();
                    long ws = dnn.forwardWorkspaceSize(xd, wd, cd, yd, algo);
                    dy.fill((byte) 0xff);
                    try (DeviceBuffer work = ws > 0 ? DeviceBuffer.allocate(ws) : null) {
                        dnn.convolutionForward(1f, xd, dx, wd, dw, cd, algo, work, 0f, yd, dy);
                    }
                    assertClose("cudnnConvolutionForward stride " + stride + " algo " + algo, expected,
                            download(dy, expected.length), 1e-5);
                }
            }
        }
    }

    @Test
    void cudnnErrorsNameTheCallAndStatus() {
        CudaException e = assertThrows(CudaException.class,
                () -> new Cudnn.TensorDescriptor(DataType.F32, true, -1, 3, 4, 4).close());
        assertTrue(e.getMessage().contains("cudnnSetTensor4dDescriptor") && e.getMessage().contains("CUDNN_STATUS_BAD_PARAM"),
                e.getMessage());
    }

    @Test
    void eventsTimeWorkAndGraphsReplayIt() {
        float[] v = random(4096);
        try (DeviceBuffer src = upload(v); DeviceBuffer dst = DeviceBuffer.allocate(src.byteSize());
             CudaEvent start = CudaEvent.create(); CudaEvent end = CudaEvent.create()) {
            try (CudaGraph g = CudaGraph.capture(stream, () -> {
                dst.fillAsync((byte) 0, stream);
                dst.copyFromAsync(src, stream);
            })) {
                dst.fill((byte) 0xff);
                start.record(stream);
                g.launch(stream);
                g.launch(stream);
                end.record(stream);
                end.synchronize();
                assertTrue(end.elapsedMillisSince(start) >= 0f);
                assertArrayEquals(v, download(dst, v.length));
            }
            assertThrows(IllegalStateException.class, () -> CudaGraph.capture(stream, () -> {
                throw new IllegalStateException("fails half way");
            }));
            assertFalse(stream.isCapturing(), "a failed capture must be ended");
        }
    }

    @Test
    void sdjSiluKernelMatchesCpuBackend() {
        SdjKernels k = SdjKernels.load();
        float[] v = random(10007);
        float[] expected = cpu.silu(Tensor.of(v, v.length)).toFloatArray();
        try (DeviceBuffer d = upload(v); DeviceBuffer y = DeviceBuffer.allocate(d.byteSize())) {
            y.fill((byte) 0xff);
            Cuda.check(k.siluF32(d.pointer(), y.pointer(), v.length, stream.handle()), "sdj_silu_f32");
            stream.synchronize();
            assertClose("sdj_silu_f32", expected, download(y, v.length), 1e-6);
        }
    }

    private static float[] random(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) RND.nextGaussian();
        return v;
    }

    private static DeviceBuffer upload(float[] v) {
        DeviceBuffer d = DeviceBuffer.allocate(4L * v.length);
        d.copyFromHost(MemorySegment.ofArray(v));
        return d;
    }

    private static DeviceBuffer upload16(float[] v) {
        short[] h = new short[v.length];
        for (int i = 0; i < v.length; i++) h[i] = Float.floatToFloat16(v[i]);
        DeviceBuffer d = DeviceBuffer.allocate(2L * v.length);
        d.copyFromHost(MemorySegment.ofArray(h));
        return d;
    }

    private static float[] round16(float[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
        return r;
    }

    private static float[] download(DeviceBuffer d, int n) {
        float[] out = new float[n];
        d.copyToHost(MemorySegment.ofArray(out));
        return out;
    }

    private static void assertClose(String what, float[] expected, float[] actual, double relL2) {
        double num = 0, den = 0;
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.isFinite(actual[i]), what + ": element " + i + " is " + actual[i]);
            double d = actual[i] - expected[i];
            num += d * d;
            den += (double) expected[i] * expected[i];
        }
        double rel = Math.sqrt(num / Math.max(den, 1e-30));
        System.out.printf("%s: relative L2 %.3g%n", what, rel);
        assertTrue(rel < relL2, what + ": relative L2 " + rel + " >= " + relL2);
    }
}
