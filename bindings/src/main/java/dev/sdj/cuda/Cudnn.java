package dev.sdj.cuda;

import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.cudnn.cudnnConvolutionFwdAlgoPerfStruct;
import dev.sdj.bindings.cudnn.cudnn_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A cuDNN handle bound to one stream, with the forward convolution sdj needs: descriptors, algorithm choice,
 * workspace size and the call, each buffer checked against its descriptor's size. Not thread-safe.
 */
public final class Cudnn extends OwnedHandle {
    private final Arena scalars = Arena.ofShared();
    private final MemorySegment alpha = scalars.allocate(ValueLayout.JAVA_FLOAT);
    private final MemorySegment beta = scalars.allocate(ValueLayout.JAVA_FLOAT);

    private Cudnn(MemorySegment handle) {
        super(handle);
    }

    /** Loads libcudnn and creates a handle whose work goes to {@code stream}. */
    public static Cudnn create(CudaStream stream) {
        load();
        Cudnn c = new Cudnn(Cuda.createHandle("cudnnCreate", out -> cudnn_h.cudnnCreate(out), Cudnn::check));
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
        CudaLibraries.load(CudaLibraries.Library.CUDNN);
    }

    /** The loaded cuDNN's version, major·10000 + minor·100 + patch (90600 for 9.6.0); needs no device. */
    public static long version() {
        load();
        return cudnn_h.cudnnGetVersion();
    }

    public void setStream(CudaStream stream) {
        check(cudnn_h.cudnnSetStream(handle(), stream.handle()), "cudnnSetStream");
    }

    /** A 4-d activation tensor, NHWC or NCHW in memory, described by its logical N, C, H, W. */
    public static final class TensorDescriptor extends OwnedHandle {
        final DataType type;
        final int n, c, h, w;

        public TensorDescriptor(DataType type, boolean nhwc, int n, int c, int h, int w) {
            super(create("cudnnCreateTensorDescriptor", out -> cudnn_h.cudnnCreateTensorDescriptor(out)));
            this.type = type;
            this.n = n;
            this.c = c;
            this.h = h;
            this.w = w;
            try {
                check(cudnn_h.cudnnSetTensor4dDescriptor(handle(), nhwc ? cudnn_h.CUDNN_TENSOR_NHWC()
                        : cudnn_h.CUDNN_TENSOR_NCHW(), type.cudnnCode(), n, c, h, w), "cudnnSetTensor4dDescriptor(" + this + ")");
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        public long byteSize() {
            return (long) n * c * h * w * type.bytes();
        }

        @Override
        void destroy(MemorySegment d) {
            check(cudnn_h.cudnnDestroyTensorDescriptor(d), "cudnnDestroyTensorDescriptor");
        }

        @Override
        public String toString() {
            return "tensor " + n + "x" + c + "x" + h + "x" + w + " " + type;
        }
    }

    /** Convolution weights: K output channels, C input channels (per group), R×S, in KRSC (NHWC) or KCRS order. */
    public static final class FilterDescriptor extends OwnedHandle {
        final DataType type;
        final int k, c, r, s;

        public FilterDescriptor(DataType type, boolean nhwc, int k, int c, int r, int s) {
            super(create("cudnnCreateFilterDescriptor", out -> cudnn_h.cudnnCreateFilterDescriptor(out)));
            this.type = type;
            this.k = k;
            this.c = c;
            this.r = r;
            this.s = s;
            try {
                check(cudnn_h.cudnnSetFilter4dDescriptor(handle(), type.cudnnCode(), nhwc ? cudnn_h.CUDNN_TENSOR_NHWC()
                        : cudnn_h.CUDNN_TENSOR_NCHW(), k, c, r, s), "cudnnSetFilter4dDescriptor(" + this + ")");
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        public long byteSize() {
            return (long) k * c * r * s * type.bytes();
        }

        @Override
        void destroy(MemorySegment d) {
            check(cudnn_h.cudnnDestroyFilterDescriptor(d), "cudnnDestroyFilterDescriptor");
        }

        @Override
        public String toString() {
            return "filter " + k + "x" + c + "x" + r + "x" + s + " " + type;
        }
    }

    /** A 2-d cross-correlation (what deep-learning "convolution" means), fp32 compute, tensor cores allowed. */
    public static final class ConvolutionDescriptor extends OwnedHandle {
        public ConvolutionDescriptor(int padH, int padW, int strideH, int strideW, int dilationH, int dilationW,
                                     int groups) {
            super(create("cudnnCreateConvolutionDescriptor", out -> cudnn_h.cudnnCreateConvolutionDescriptor(out)));
            try {
                check(cudnn_h.cudnnSetConvolution2dDescriptor(handle(), padH, padW, strideH, strideW, dilationH, dilationW,
                        cudnn_h.CUDNN_CROSS_CORRELATION(), cudnn_h.CUDNN_DATA_FLOAT()), "cudnnSetConvolution2dDescriptor");
                check(cudnn_h.cudnnSetConvolutionMathType(handle(), cudnn_h.CUDNN_TENSOR_OP_MATH()),
                        "cudnnSetConvolutionMathType");
                if (groups != 1) check(cudnn_h.cudnnSetConvolutionGroupCount(handle(), groups), "cudnnSetConvolutionGroupCount");
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Switches tensor-op math on or off (off: exact fp32 FMA, for checks against the CPU). */
        public void setMathType(int cudnnMathType) {
            check(cudnn_h.cudnnSetConvolutionMathType(handle(), cudnnMathType), "cudnnSetConvolutionMathType");
        }

        @Override
        void destroy(MemorySegment d) {
            check(cudnn_h.cudnnDestroyConvolutionDescriptor(d), "cudnnDestroyConvolutionDescriptor");
        }

        @Override
        public String toString() {
            return "convolution descriptor";
        }
    }

    /** One algorithm cuDNN proposes or measured: its id, status, time (ms, measured only) and workspace. */
    public record AlgorithmPerf(int algorithm, int status, float timeMillis, long workspaceBytes, int mathType) {}

    /** N, C, H, W of the convolution's output. */
    public static int[] outputShape(ConvolutionDescriptor conv, TensorDescriptor x, FilterDescriptor w) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment d = arena.allocate(ValueLayout.JAVA_INT, 4);
            check(cudnn_h.cudnnGetConvolution2dForwardOutputDim(conv.handle(), x.handle(), w.handle(), d,
                    d.asSlice(4), d.asSlice(8), d.asSlice(12)), "cudnnGetConvolution2dForwardOutputDim(" + x + ", " + w + ")");
            return d.toArray(ValueLayout.JAVA_INT);
        }
    }

    /** cuDNN's heuristic ranking (cudnnGetConvolutionForwardAlgorithm_v7), best first, runnable ones only. */
    public List<AlgorithmPerf> rankForwardAlgorithms(TensorDescriptor x, FilterDescriptor w, ConvolutionDescriptor conv,
                                                     TensorDescriptor y) {
        int max = 16;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment perf = cudnnConvolutionFwdAlgoPerfStruct.allocateArray(max, arena);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            check(cudnn_h.cudnnGetConvolutionForwardAlgorithm_v7(handle(), x.handle(), w.handle(), conv.handle(),
                    y.handle(), max, count, perf), "cudnnGetConvolutionForwardAlgorithm_v7(" + x + ", " + w + ")");
            return perfs(perf, count.get(ValueLayout.JAVA_INT, 0));
        }
    }

    /** Runs the candidate algorithms on real buffers (cudnnFindConvolutionForwardAlgorithmEx); fastest first. */
    public List<AlgorithmPerf> findForwardAlgorithms(TensorDescriptor x, DeviceBuffer xBuf, FilterDescriptor w,
                                                     DeviceBuffer wBuf, ConvolutionDescriptor conv, TensorDescriptor y,
                                                     DeviceBuffer yBuf, DeviceBuffer workspace) {
        checkBuffer("x", x.byteSize(), xBuf);
        checkBuffer("w", w.byteSize(), wBuf);
        checkBuffer("y", y.byteSize(), yBuf);
        int max = 16;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment perf = cudnnConvolutionFwdAlgoPerfStruct.allocateArray(max, arena);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            check(cudnn_h.cudnnFindConvolutionForwardAlgorithmEx(handle(), x.handle(), xBuf.pointer(), w.handle(),
                    wBuf.pointer(), conv.handle(), y.handle(), yBuf.pointer(), max, count, perf,
                    workspace == null ? MemorySegment.NULL : workspace.pointer(),
                    workspace == null ? 0 : workspace.byteSize()),
                    "cudnnFindConvolutionForwardAlgorithmEx(" + x + ", " + w + ")");
            return perfs(perf, count.get(ValueLayout.JAVA_INT, 0));
        }
    }

    private static List<AlgorithmPerf> perfs(MemorySegment perf, int n) {
        List<AlgorithmPerf> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            MemorySegment p = cudnnConvolutionFwdAlgoPerfStruct.asSlice(perf, i);
            if (cudnnConvolutionFwdAlgoPerfStruct.status(p) != cudnn_h.CUDNN_STATUS_SUCCESS()) continue;
            out.add(new AlgorithmPerf(cudnnConvolutionFwdAlgoPerfStruct.algo(p), cudnnConvolutionFwdAlgoPerfStruct.status(p),
                    cudnnConvolutionFwdAlgoPerfStruct.time(p), cudnnConvolutionFwdAlgoPerfStruct.memory(p),
                    cudnnConvolutionFwdAlgoPerfStruct.mathType(p)));
        }
        return out;
    }

    public long forwardWorkspaceSize(TensorDescriptor x, FilterDescriptor w, ConvolutionDescriptor conv,
                                     TensorDescriptor y, int algorithm) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment size = arena.allocate(ValueLayout.JAVA_LONG);
            check(cudnn_h.cudnnGetConvolutionForwardWorkspaceSize(handle(), x.handle(), w.handle(), conv.handle(),
                    y.handle(), algorithm, size), "cudnnGetConvolutionForwardWorkspaceSize(algorithm " + algorithm + ")");
            return size.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /** y = alpha·conv(x, w) + beta·y with the given algorithm and workspace (null when it needs none). */
    public void convolutionForward(float alpha, TensorDescriptor x, DeviceBuffer xBuf, FilterDescriptor w,
                                   DeviceBuffer wBuf, ConvolutionDescriptor conv, int algorithm, DeviceBuffer workspace,
                                   float beta, TensorDescriptor y, DeviceBuffer yBuf) {
        checkBuffer("x", x.byteSize(), xBuf);
        checkBuffer("w", w.byteSize(), wBuf);
        checkBuffer("y", y.byteSize(), yBuf);
        this.alpha.set(ValueLayout.JAVA_FLOAT, 0, alpha);
        this.beta.set(ValueLayout.JAVA_FLOAT, 0, beta);
        check(cudnn_h.cudnnConvolutionForward(handle(), this.alpha, x.handle(), xBuf.pointer(), w.handle(), wBuf.pointer(),
                conv.handle(), algorithm, workspace == null ? MemorySegment.NULL : workspace.pointer(),
                workspace == null ? 0 : workspace.byteSize(), this.beta, y.handle(), yBuf.pointer()),
                "cudnnConvolutionForward(" + x + ", " + w + ", algorithm " + algorithm + ")");
    }

    private static void checkBuffer(String name, long needed, DeviceBuffer buf) {
        if (buf.byteSize() < needed) {
            throw new IndexOutOfBoundsException(name + " needs " + needed + " bytes; " + buf + " is smaller");
        }
    }

    private static MemorySegment create(String call, Cuda.OutCall c) {
        load();
        return Cuda.createHandle(call, c, Cudnn::check);
    }

    /** Throws a {@link CudaException} with cuDNN's status sentence and its last error message. */
    public static void check(int status, String call) {
        if (status == cudnn_h.CUDNN_STATUS_SUCCESS()) return;
        String name = Cuda.cString(cudnn_h.cudnnGetErrorString(status));
        String detail;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment msg = arena.allocate(1024);
            cudnn_h.cudnnGetLastErrorString(msg, msg.byteSize());
            detail = msg.getString(0);
        }
        throw new CudaException(call, status, name, detail);
    }

    @Override
    void destroy(MemorySegment h) {
        try {
            check(cudnn_h.cudnnDestroy(h), "cudnnDestroy");
        } finally {
            scalars.close();
        }
    }

    @Override
    public String toString() {
        return "Cudnn handle";
    }
}
