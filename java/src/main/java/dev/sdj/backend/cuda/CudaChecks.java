package dev.sdj.backend.cuda;

import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;

import java.util.Arrays;

/**
 * The CUDA backend's argument checks, made before anything reaches a kernel: a kernel given a wrong size
 * reads or writes out of bounds, so every launch's sizes are derived from shapes checked here. Pure Java,
 * so they are unit-tested without a GPU.
 */
final class CudaChecks {
    private CudaChecks() {}

    static IllegalArgumentException error(String op, String message) {
        return new IllegalArgumentException(op + ": " + message);
    }

    static String dims(Tensor t) {
        return Arrays.toString(t.shape());
    }

    /** On this backend's device, in its compute dtype. */
    static void requireDevice(String op, String name, Tensor t, DType dtype) {
        if (t == null) throw error(op, name + " is null");
        if (t.device() != Device.CUDA) {
            throw error(op, name + " " + dims(t) + " is a host tensor; bring it to the GPU with upload() first");
        }
        if (t.dtype() != dtype) {
            throw error(op, name + " " + dims(t) + " has dtype " + t.dtype() + "; this CUDA backend computes in " + dtype
                    + " (upload() converts, cast() too)");
        }
    }

    static void requireRank(String op, String name, Tensor t, int rank) {
        if (t.rank() != rank) throw error(op, name + " " + dims(t) + " must have rank " + rank);
    }

    static void requireNotNchw(String op, String name, Tensor t) {
        if (t.layout() == Layout.NCHW) {
            throw error(op, name + " " + dims(t) + " is NCHW; image ops take NHWC (nchwToNhwc converts)");
        }
    }

    static int lastDim(String op, Tensor t) {
        if (t.rank() < 1) throw error(op, "x " + dims(t) + " has no last dim");
        return t.dim(-1);
    }

    static void requireVector(String op, String name, Tensor t, int length) {
        if (t.rank() != 1 || t.dim(0) != length) {
            throw error(op, name + " " + dims(t) + " must be a vector of " + length);
        }
    }

    /** conv2d's output (N, Ho, Wo, Cout), after checking x NHWC, weight OHWI and the geometry. */
    static int[] conv2dShape(Tensor x, Tensor w, int sh, int sw, int ph, int pw) {
        String op = "conv2d";
        requireRank(op, "x", x, 4);
        requireRank(op, "weight", w, 4);
        requireNotNchw(op, "x", x);
        if (w.layout() != Layout.OHWI) {
            throw error(op, "weight " + dims(w) + " is " + w.layout() + "; conv2d takes OHWI (convWeight converts OIHW)");
        }
        if (w.dim(3) != x.dim(3)) {
            throw error(op, "x " + dims(x) + " has " + x.dim(3) + " channels, weight " + dims(w) + " expects " + w.dim(3));
        }
        if (sh < 1 || sw < 1 || ph < 0 || pw < 0) {
            throw error(op, "stride " + sh + "x" + sw + " must be >= 1 and padding " + ph + "x" + pw + " >= 0");
        }
        int ho = (x.dim(1) + 2 * ph - w.dim(1)) / sh + 1, wo = (x.dim(2) + 2 * pw - w.dim(2)) / sw + 1;
        if (x.dim(1) + 2 * ph < w.dim(1) || x.dim(2) + 2 * pw < w.dim(2) || ho < 1 || wo < 1) {
            throw error(op, "kernel " + w.dim(1) + "x" + w.dim(2) + " does not fit x " + dims(x) + " padded by " + ph + "x" + pw);
        }
        return new int[] {x.dim(0), ho, wo, w.dim(0)};
    }

    /** The shape op(a)·op(b) gives, (B, M, N), after checking the inner dims. */
    static int[] matmulShape(Tensor a, Tensor b, boolean transA, boolean transB) {
        String op = "matmul";
        requireRank(op, "a", a, 3);
        requireRank(op, "b", b, 3);
        if (a.dim(0) != b.dim(0)) throw error(op, "batch of a " + dims(a) + " and b " + dims(b) + " differ");
        int m = transA ? a.dim(2) : a.dim(1), ka = transA ? a.dim(1) : a.dim(2);
        int kb = transB ? b.dim(2) : b.dim(1), n = transB ? b.dim(1) : b.dim(2);
        if (ka != kb) {
            throw error(op, "inner dims differ: a " + dims(a) + (transA ? "ᵀ" : "") + " · b " + dims(b) + (transB ? "ᵀ" : ""));
        }
        return new int[] {a.dim(0), m, n};
    }

    /** b's shape padded on the left with 1s to a's rank, after checking it broadcasts to a (NumPy rules). */
    static long[] broadcastShape(String op, Tensor a, Tensor b) {
        if (b.rank() > a.rank()) throw error(op, "b " + dims(b) + " has more dims than a " + dims(a));
        if (a.rank() > 6) throw error(op, "a " + dims(a) + " has more than 6 dims");
        long[] bs = new long[a.rank()];
        int pad = a.rank() - b.rank();
        for (int i = 0; i < a.rank(); i++) {
            bs[i] = i < pad ? 1 : b.dim(i - pad);
            if (bs[i] != 1 && bs[i] != a.dim(i)) throw error(op, "b " + dims(b) + " does not broadcast to a " + dims(a));
        }
        return bs;
    }

    /** Multi-head attention shapes: q (B, Lq, H·D), k (B, Lk, H·D), v (B, Lk, H·Dv); returns {B, Lq, Lk, D, Dv}. */
    static int[] attentionShape(Tensor q, Tensor k, Tensor v, int heads) {
        String op = "attention";
        requireRank(op, "q", q, 3);
        requireRank(op, "k", k, 3);
        requireRank(op, "v", v, 3);
        if (heads < 1) throw error(op, "heads " + heads + " must be >= 1");
        if (q.dim(0) != k.dim(0) || q.dim(0) != v.dim(0)) throw error(op, "batch of q, k, v differ: " + dims(q) + dims(k) + dims(v));
        if (k.dim(1) != v.dim(1)) throw error(op, "k " + dims(k) + " and v " + dims(v) + " differ in length");
        if (q.dim(2) != k.dim(2)) throw error(op, "q " + dims(q) + " and k " + dims(k) + " differ in width");
        if (q.dim(2) % heads != 0 || v.dim(2) % heads != 0) {
            throw error(op, "widths of q " + dims(q) + " and v " + dims(v) + " must divide by heads " + heads);
        }
        return new int[] {q.dim(0), q.dim(1), k.dim(1), q.dim(2) / heads, v.dim(2) / heads};
    }

    static void requireSameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) throw error(op, "a " + dims(a) + " and b " + dims(b) + " differ in shape");
    }
}
