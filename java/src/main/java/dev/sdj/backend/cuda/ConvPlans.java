package dev.sdj.backend.cuda;

import dev.sdj.bindings.cudnn.cudnnConvolutionFwdAlgoPerfStruct;
import dev.sdj.bindings.cudnn.cudnn_h;
import dev.sdj.cuda.Cudnn;
import dev.sdj.cuda.DataType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * cuDNN convolution plans, one per (shape, dtype): the descriptors and the algorithm, chosen once by timing
 * the candidates on the first call's own buffers (cudnnFindConvolutionForwardAlgorithmEx) and cached.
 * fp32 keeps to the GEMM-based algorithms in FMA math: exact fp32 products, so the fp32 path can be held to
 * the CPU backend tightly (Winograd and FFT round differently).
 */
final class ConvPlans implements AutoCloseable {
    /** The most workspace an algorithm may ask for. */
    static final long WORKSPACE_LIMIT = 256L << 20;

    record Key(int n, int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {}

    static final class Plan implements AutoCloseable {
        final Cudnn.TensorDescriptor x, y;
        final Cudnn.FilterDescriptor w;
        final Cudnn.ConvolutionDescriptor conv;
        final int outH, outW;
        int algorithm = -1;
        long workspaceBytes;

        Plan(Key k, DataType type) {
            x = new Cudnn.TensorDescriptor(type, true, k.n(), k.cin(), k.h(), k.w());
            w = new Cudnn.FilterDescriptor(type, true, k.cout(), k.cin(), k.kh(), k.kw());
            conv = new Cudnn.ConvolutionDescriptor(k.ph(), k.pw(), k.sh(), k.sw(), 1, 1, 1);
            if (type == DataType.F32) conv.setMathType(cudnn_h.CUDNN_FMA_MATH());
            int[] out = Cudnn.outputShape(conv, x, w);
            outH = out[2];
            outW = out[3];
            y = new Cudnn.TensorDescriptor(type, true, out[0], out[1], out[2], out[3]);
        }

        @Override
        public void close() {
            y.close();
            conv.close();
            w.close();
            x.close();
        }
    }

    private final Map<Key, Plan> plans = new HashMap<>();
    private final DataType type;

    ConvPlans(DataType type) {
        this.type = type;
    }

    Plan get(Key key) {
        return plans.computeIfAbsent(key, k -> new Plan(k, type));
    }

    /** Times the algorithms on these buffers (the output is overwritten) and keeps the fastest that fits. */
    void choose(Cudnn dnn, Plan p, MemorySegment x, MemorySegment w, MemorySegment y, MemorySegment workspace,
                long workspaceBytes) {
        int max = 16;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment perf = cudnnConvolutionFwdAlgoPerfStruct.allocateArray(max, arena);
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            Cudnn.check(cudnn_h.cudnnFindConvolutionForwardAlgorithmEx(dnn.handle(), p.x.handle(), x, p.w.handle(), w,
                    p.conv.handle(), p.y.handle(), y, max, count, perf, workspace, workspaceBytes),
                    "cudnnFindConvolutionForwardAlgorithmEx(" + p.x + ", " + p.w + ")");
            for (int i = 0; i < count.get(ValueLayout.JAVA_INT, 0); i++) {
                MemorySegment r = cudnnConvolutionFwdAlgoPerfStruct.asSlice(perf, i);
                int algo = cudnnConvolutionFwdAlgoPerfStruct.algo(r);
                if (cudnnConvolutionFwdAlgoPerfStruct.status(r) != cudnn_h.CUDNN_STATUS_SUCCESS()) continue;
                if (cudnnConvolutionFwdAlgoPerfStruct.memory(r) > workspaceBytes) continue;
                if (type == DataType.F32 && !isGemmBased(algo)) continue;
                p.algorithm = algo;
                p.workspaceBytes = cudnnConvolutionFwdAlgoPerfStruct.memory(r);
                return; // results come fastest first
            }
        }
        throw new IllegalStateException("cuDNN has no usable forward algorithm for " + p.x + " * " + p.w
                + " within " + (workspaceBytes >> 20) + " MiB of workspace");
    }

    private static boolean isGemmBased(int algo) {
        return algo == cudnn_h.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM()
                || algo == cudnn_h.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM()
                || algo == cudnn_h.CUDNN_CONVOLUTION_FWD_ALGO_GEMM();
    }

    int size() {
        return plans.size();
    }

    @Override
    public void close() {
        for (Plan p : plans.values()) p.close();
        plans.clear();
    }
}
