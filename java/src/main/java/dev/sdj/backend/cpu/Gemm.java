package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Single-precision GEMM on host memory: C = alpha · op(A) · op(B) + beta · C, all row-major,
 * offsets and leading dimensions in elements. With beta == 0, C's old content is never read (a
 * NaN there does not leak into the result).
 *
 * <p>The structure is the usual BLIS/GotoBLAS one, see {@link GemmKernel} for the register
 * kernel and {@link #run} for the blocking. A is packed MC×KC at a time into micro-panels of
 * {@link GemmKernel#MR} rows, B into micro-panels of {@link GemmKernel#NR} columns, both in the
 * order the micro-kernel reads them, so the inner loop only ever walks two float[] forward.
 */
public final class Gemm {
    static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final int MR = GemmKernel.MR, NR = GemmKernel.NR;
    /**
     * Depth of one K block. The epilogue (reading and writing C) is paid once per K block, so
     * deeper is better as long as the A block (MC·KC floats, 288 KiB) stays in the 1 MiB L2; the
     * B micro-panel (KC·NR floats, 64 KiB) then streams from L2 too, which the kernel's 12 FMAs
     * per 128 bytes of B easily hide. Measured on Zen 4: 512 beats 256 by 3–5 %.
     */
    static final int KC = 512;
    /** Rows of A packed at a time; 96 … 240 measure within noise, 144 is a multiple of MR. */
    static final int MC = 144;
    /**
     * Packed B holds all of K for NC columns. Up to this many floats (32 MiB) it is packed once
     * per call, so A is packed exactly once too; larger B is split in column blocks. Not final
     * so that tests can force the column-block path with small matrices.
     */
    static int packedBMax = 8 << 20;
    /** Below about 2 MFLOP a fork/join costs more than it saves. */
    private static final long PARALLEL_MIN_MNK = 1L << 20;

    private Gemm() {}

    /** Multi-threaded over the calling thread and the common pool. */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                             float beta, MemorySegment c, long cOff, int ldc) {
        checkOperands(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        run(m, n, k, alpha, new MatrixA(a, aOff, lda, transA), b, bOff, ldb, transB, beta, null, c, cOff, ldc, true);
    }

    /** On the calling thread only (for callers that already run one GEMM per task, e.g. per head). */
    public static void sgemmSerial(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   MemorySegment a, long aOff, int lda, MemorySegment b, long bOff, int ldb,
                                   float beta, MemorySegment c, long cOff, int ldc) {
        checkOperands(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        run(m, n, k, alpha, new MatrixA(a, aOff, lda, transA), b, bOff, ldb, transB, beta, null, c, cOff, ldc, false);
    }

    private static void checkOperands(boolean transA, boolean transB, int m, int n, int k, MemorySegment a, long aOff, int lda,
                                      MemorySegment b, long bOff, int ldb, MemorySegment c, long cOff, int ldc) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative GEMM size " + m + "×" + n + "×" + k);
        if (m == 0 || n == 0) return;
        checkMatrix("C", c, cOff, m, n, ldc);
        if (k == 0) return;
        checkMatrix("A", a, aOff, transA ? k : m, transA ? m : k, lda);
        checkMatrix("B", b, bOff, transB ? n : k, transB ? k : n, ldb);
    }

    /**
     * Throws unless rows×cols at off (leading dimension ld) lies inside s. The packers read heap
     * segments through their backing array, which would not notice a slice being overrun.
     */
    static void checkMatrix(String name, MemorySegment s, long off, int rows, int cols, int ld) {
        long end = off + (long) (rows - 1) * ld + cols; // one past the last element
        if (off < 0 || ld < 0 || end * Float.BYTES > s.byteSize()) {
            throw new IndexOutOfBoundsException(name + ": " + rows + "×" + cols + " floats at offset " + off + " with leading dimension "
                    + ld + " do not fit in " + s.byteSize() + " bytes");
        }
    }

    /**
     * Fills one A micro-panel: rows i0 … i0+rows−1 (rows ≤ MR) and depth p0 … p0+kc−1 of the
     * logical A, stored as buf[dOff + p·MR + r]; rows rows … MR−1 are zero. buf[sOff …] has
     * MR·kc floats of scratch (see {@link GemmKernel#interleave}). Conv2d supplies an im2col
     * packer, so a convolution reuses the whole blocked GEMM without an im2col buffer.
     */
    interface APacker {
        void pack(float[] buf, int dOff, int sOff, int i0, int rows, int p0, int kc);
    }

    /** A packer over a plain row-major matrix, op(A) = A or Aᵀ. */
    static final class MatrixA implements APacker {
        private final MemorySegment a;
        private final long off;
        private final int lda;
        private final boolean trans;
        /** The backing array when A is a heap float[] segment (then read directly), else null. */
        private final float[] heap;
        private final long heapStart;

        MatrixA(MemorySegment a, long off, int lda, boolean trans) {
            this.a = a;
            this.off = off;
            this.lda = lda;
            this.trans = trans;
            this.heap = heapFloats(a);
            this.heapStart = heap == null ? 0 : heapIndex(a);
        }

        @Override
        public void pack(float[] buf, int dOff, int sOff, int i0, int rows, int p0, int kc) {
            if (trans) {
                // A stored K×M: the MR values of one depth step are contiguous in memory.
                for (int p = 0; p < kc; p++) {
                    long s = off + (long) (p0 + p) * lda + i0;
                    int d = dOff + p * MR;
                    if (heap != null) {
                        System.arraycopy(heap, (int) (heapStart + s), buf, d, rows);
                    } else {
                        for (int r = 0; r < rows; r++) buf[d + r] = a.getAtIndex(F, s + r);
                    }
                    for (int r = rows; r < MR; r++) buf[d + r] = 0;
                }
                return;
            }
            long first = off + (long) i0 * lda + p0;
            if (heap != null) {
                // A heap A is interleaved in place: no copy, no per-call overhead for short rows.
                GemmKernel.interleave(heap, (int) (heapStart + first), lda, kc, rows, buf, dOff);
                return;
            }
            // Native or mapped A: bulk-copy the row runs to scratch, then interleave from the array.
            for (int r = 0; r < rows; r++) {
                MemorySegment.copy(a, F, (first + (long) r * lda) * Float.BYTES, buf, sOff + r * kc, kc);
            }
            GemmKernel.interleave(buf, sOff, kc, kc, rows, buf, dOff);
        }
    }

    /** The float[] behind a heap segment made from one (MemorySegment.ofArray), else null. */
    static float[] heapFloats(MemorySegment s) {
        Object base = s.heapBase().orElse(null);
        return base instanceof float[] f && s.address() % Float.BYTES == 0 ? f : null;
    }

    /** For a segment {@link #heapFloats} accepts: the array index of its element 0. */
    static long heapIndex(MemorySegment s) {
        // A heap segment's address is its byte offset into the backing array.
        return s.address() / Float.BYTES;
    }

    // ---- buffers ---------------------------------------------------------------------------

    /**
     * Per-thread scratch, borrowed (the slot is emptied while in use) rather than just read: a
     * thread that waits in a fork/join may run another task meanwhile, and that task's GEMM
     * must not scribble over the packed B the waiting one still shares with its helpers.
     */
    private static final ThreadLocal<float[]> A_BUF = new ThreadLocal<>();
    private static final ThreadLocal<float[]> S_BUF = new ThreadLocal<>();
    /**
     * Packed B lives in native memory, like a {@link PackedB} does, so that the micro-kernel's
     * one call site only ever sees one kind of segment (a mix of heap and native segments there
     * makes C2 compile the loads for both).
     */
    private static final ThreadLocal<MemorySegment> B_BUF = new ThreadLocal<>();

    static float[] borrow(ThreadLocal<float[]> slot, int size) {
        float[] buf = slot.get();
        if (buf == null || buf.length < size) return new float[size];
        slot.set(null);
        return buf;
    }

    static void giveBack(ThreadLocal<float[]> slot, float[] buf) {
        float[] cur = slot.get();
        if (cur == null || cur.length < buf.length) slot.set(buf);
    }

    private static MemorySegment borrowNative(long floats) {
        MemorySegment buf = B_BUF.get();
        if (buf == null || buf.byteSize() < floats * Float.BYTES) {
            // Rounded up, so that a slightly larger B next time reuses it.
            long bytes = Math.max(floats * Float.BYTES, buf == null ? 0 : buf.byteSize() * 5 / 4);
            return HostFloats.allocateNative(bytes);
        }
        B_BUF.set(null);
        return buf;
    }

    private static void giveBackNative(MemorySegment buf) {
        MemorySegment cur = B_BUF.get();
        if (cur == null || cur.byteSize() < buf.byteSize()) B_BUF.set(buf);
    }

    // ---- B packed once ------------------------------------------------------------------------

    /**
     * A B operand packed once for any number of products: all of K and all N columns, in the
     * layout {@link #run} packs per call (K block kb of depth kc starts at p0·nPad, its panel jp
     * at p0·nPad + jp·kc·NR), in native memory ({@link HostFloats#allocateNative}, freed once unreachable).
     * For weights: the packing (a transpose for PyTorch's out×in layout) and the pass over memory
     * it costs are paid once instead of on every call, and the micro-kernel streams B
     * sequentially.
     */
    static final class PackedB {
        final int n, k, kcMax, nPad;
        final MemorySegment data;

        private PackedB(int n, int k, int kcMax, int nPad, MemorySegment data) {
            this.n = n;
            this.k = k;
            this.kcMax = kcMax;
            this.nPad = nPad;
            this.data = data;
        }

        long bytes() {
            return data.byteSize();
        }
    }

    /**
     * A zeroed PackedB for op(B) k×n, for callers that write the packed layout themselves
     * ({@link #packedIndex}); zero is the padding the layout needs past column n.
     */
    static PackedB allocate(int n, int k) {
        int kcMax = kcMax(k);
        return new PackedB(n, k, kcMax, roundUp(n, NR), HostFloats.allocateNative(packedFloats(n, k) * Float.BYTES));
    }

    /** Where element (p, j) of op(B) (depth p, column j) lives in a PackedB's data, in floats. */
    static long packedIndex(PackedB b, int p, int j) {
        int p0 = p / b.kcMax * b.kcMax, kc = Math.min(b.kcMax, b.k - p0);
        return (long) p0 * b.nPad + (long) (j / NR) * kc * NR + (long) (p - p0) * NR + j % NR;
    }

    /** K block depth for a given K: balanced blocks of at most KC (k = 600 is two blocks of 300, not 512 + 88). */
    static int kcMax(int k) {
        int kBlocks = (k + KC - 1) / KC;
        return (k + kBlocks - 1) / kBlocks;
    }

    /** Floats a {@link PackedB} of op(B) (k×n) takes. */
    static long packedFloats(int n, int k) {
        return (long) roundUp(n, NR) * k;
    }

    /** op(B) (k×n; B is n×k when transB) packed once, on all threads. */
    static PackedB pack(int n, int k, MemorySegment b, long bOff, int ldb, boolean transB) {
        if (n <= 0 || k <= 0) throw new IllegalArgumentException("pack: empty B " + k + "×" + n);
        checkMatrix("B", b, bOff, transB ? n : k, transB ? k : n, ldb);
        int kcMax = kcMax(k), kBlocks = (k + kcMax - 1) / kcMax;
        int nPanels = (n + NR - 1) / NR, nPad = nPanels * NR;
        MemorySegment data = HostFloats.allocateNative(packedFloats(n, k) * Float.BYTES);
        Parallel.forRange(nPanels * kBlocks, 1, (s, e) -> packB(s, e, nPanels, kcMax, k, b, bOff, ldb, transB, 0, n, nPad, data));
        return new PackedB(n, k, kcMax, nPad, data);
    }

    // ---- driver ----------------------------------------------------------------------------

    /**
     * C (m×n at cOff, ldc) = alpha · A·op(B) + beta · C (+ bias[j] on every row when bias is not
     * null), A given by its packer, B (k×n, or n×k when transB) a matrix.
     */
    static void run(int m, int n, int k, float alpha, APacker aPacker, MemorySegment b, long bOff, int ldb, boolean transB,
                    float beta, float[] bias, MemorySegment c, long cOff, int ldc, boolean parallel) {
        run(m, n, k, alpha, aPacker, b, bOff, ldb, transB, null, beta, bias, c, cOff, ldc, parallel);
    }

    /** The same with B already packed ({@code packed} for exactly this n and k; b, bOff, ldb, transB unused). */
    static void run(int m, int n, int k, float alpha, APacker aPacker, PackedB packed, float beta, float[] bias,
                    MemorySegment c, long cOff, int ldc, boolean parallel) {
        if (packed.n != n || packed.k != k) {
            throw new IllegalArgumentException("packed B is " + packed.k + "×" + packed.n + ", the product needs " + k + "×" + n);
        }
        run(m, n, k, alpha, aPacker, null, 0, 0, false, packed, beta, bias, c, cOff, ldc, parallel);
    }

    private static void run(int m, int n, int k, float alpha, APacker aPacker, MemorySegment b, long bOff, int ldb, boolean transB,
                            PackedB packed, float beta, float[] bias, MemorySegment c, long cOff, int ldc, boolean parallel) {
        if (m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("negative GEMM size " + m + "×" + n + "×" + k);
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == 0) {
            scaleC(m, n, beta, bias, c, cOff, ldc);
            return;
        }
        parallel &= Parallel.threads() > 1 && (long) m * n * k >= PARALLEL_MIN_MNK;

        int kcMax = kcMax(k), kBlocks = (k + kcMax - 1) / kcMax;
        int nPadAll = roundUp(n, NR);
        int nc = nPadAll;
        if (packed == null && (long) nc * k > packedBMax) nc = Math.max(NR, packedBMax / k / NR * NR);
        float[] biasPad = bias == null ? null : java.util.Arrays.copyOf(bias, nPadAll);

        MemorySegment bp = packed != null ? packed.data : borrowNative((long) nc * k);
        try {
            for (int jc = 0; jc < n; jc += nc) {
                int ncw = Math.min(nc, n - jc);
                int nPanels = (ncw + NR - 1) / NR;
                int ncPad = nPanels * NR;
                int jcF = jc;
                if (packed == null) {
                    // Pack all of K for these columns: block kb (depth p0, width kc) starts at p0·ncPad,
                    // its panel jp at p0·ncPad + jp·kc·NR.
                    if (parallel && (long) ncPad * k >= 1 << 16) {
                        Parallel.forRange(nPanels * kBlocks, 1, (s, e) -> {
                            packB(s, e, nPanels, kcMax, k, b, bOff, ldb, transB, jcF, ncw, ncPad, bp);
                        });
                    } else {
                        packB(0, nPanels * kBlocks, nPanels, kcMax, k, b, bOff, ldb, transB, jcF, ncw, ncPad, bp);
                    }
                }

                int mPanels = (m + MR - 1) / MR;
                if (!parallel) {
                    macro(0, m, 0, nPanels, jc, ncw, ncPad, k, kcMax, alpha, aPacker, bp, beta, biasPad, c, cOff, ldc);
                    continue;
                }
                // Cut the output over rows in about 4·threads pieces (each packs only its own A
                // rows) when there are enough of them; for a short A (m ≤ 192, e.g. 77 text
                // tokens) rows would leave each B micro-panel used by one or two A panels only, so
                // cut over B panels instead, in just one piece per thread: each piece packs all of
                // A, which is cheap once but not eight times.
                int want = Parallel.threads() * 4;
                int mSplit, nSplit;
                if (mPanels >= 4 * want || nPanels == 1) {
                    mSplit = Math.min(mPanels, want);
                    nSplit = 1;
                } else {
                    nSplit = Math.min(nPanels, Parallel.threads());
                    mSplit = Math.max(1, Math.min(mPanels, Parallel.threads() / nSplit));
                }
                Parallel.forRange(mSplit * nSplit, 1, (s, e) -> {
                    for (int t = s; t < e; t++) {
                        int im = t / nSplit, in = t % nSplit;
                        int i0 = (int) ((long) mPanels * im / mSplit) * MR, i1 = Math.min(m, (int) ((long) mPanels * (im + 1) / mSplit) * MR);
                        int j0 = (int) ((long) nPanels * in / nSplit), j1 = (int) ((long) nPanels * (in + 1) / nSplit);
                        macro(i0, i1, j0, j1, jcF, ncw, ncPad, k, kcMax, alpha, aPacker, bp, beta, biasPad, c, cOff, ldc);
                    }
                });
            }
        } finally {
            if (packed == null) giveBackNative(bp);
        }
    }

    /** Packs B panels t0 … t1−1, numbered K block major (t = kb·nPanels + jp). */
    private static void packB(int t0, int t1, int nPanels, int kcMax, int k, MemorySegment b, long bOff, int ldb, boolean transB,
                              int jc, int ncw, int ncPad, MemorySegment bp) {
        float[] scratch = transB ? borrow(S_BUF, NR * kcMax) : null;
        try {
            for (int t = t0; t < t1; t++) {
                int kb = t / nPanels, jp = t % nPanels;
                int p0 = kb * kcMax, kc = Math.min(kcMax, k - p0);
                int j0 = jp * NR, cols = Math.min(NR, ncw - j0);
                GemmKernel.packB(bp, (long) p0 * ncPad + (long) jp * kc * NR, b, bOff, ldb, transB, p0, kc, jc + j0, cols, scratch);
            }
        } finally {
            if (scratch != null) giveBack(S_BUF, scratch);
        }
    }

    /**
     * Rows i0 … i1−1 and B panels j0 … j1−1 of one column block: for each MC×KC block of A,
     * pack it, then run every (B panel, A panel) pair through the micro-kernel. B panels in the
     * outer loop, so one B micro-panel is reused from L1/L2 by all MC/MR A micro-panels.
     */
    private static void macro(int i0, int i1, int j0, int j1, int jc, int ncw, int ncPad, int k, int kcMax, float alpha,
                              APacker aPacker, MemorySegment bp, float beta, float[] bias, MemorySegment c, long cOff, int ldc) {
        if (i0 >= i1 || j0 >= j1) return;
        // Packed A block, then the C tile, then MR rows of packing scratch.
        float[] ap = borrow(A_BUF, MC * kcMax + MR * NR + MR * kcMax);
        int tile = MC * kcMax, scratch = tile + MR * NR;
        float[] ca = heapFloats(c);
        long caStart = ca == null ? 0 : heapIndex(c);
        try {
            for (int ic = i0; ic < i1; ic += MC) {
                int mc = Math.min(MC, i1 - ic);
                int aPanels = (mc + MR - 1) / MR;
                for (int p0 = 0; p0 < k; p0 += kcMax) {
                    int kc = Math.min(kcMax, k - p0);
                    boolean first = p0 == 0;
                    float bt = first ? beta : 1f;
                    for (int ip = 0; ip < aPanels; ip++) {
                        int r0 = ic + ip * MR;
                        aPacker.pack(ap, ip * MR * kc, scratch, r0, Math.min(MR, i1 - r0), p0, kc);
                    }
                    long bBlock = (long) p0 * ncPad;
                    for (int jp = j0; jp < j1; jp++) {
                        int col = jp * NR;
                        int cols = Math.min(NR, ncw - col);
                        long bPanel = bBlock + (long) jp * kc * NR;
                        for (int ip = 0; ip < aPanels; ip++) {
                            int r0 = ic + ip * MR;
                            if (cols > GemmKernel.VL) {
                                GemmKernel.kernel(ap, ip * MR * kc, bp, bPanel, kc, ap, tile);
                            } else if (cols > GemmKernel.VL / 2) {
                                GemmKernel.kernelHalf(ap, ip * MR * kc, bp, bPanel, kc, ap, tile);
                            } else {
                                GemmKernel.kernelQuarter(ap, ip * MR * kc, bp, bPanel, kc, ap, tile);
                            }
                            GemmKernel.update(ap, tile, ca, caStart, c, cOff + (long) r0 * ldc + jc + col, ldc, Math.min(MR, i1 - r0),
                                    cols, alpha, bt, first, bias, jc + col);
                        }
                    }
                }
            }
        } finally {
            giveBack(A_BUF, ap);
        }
    }

    /** C = beta·C (+ bias): the k == 0 or alpha == 0 case; beta == 0 writes zeros without reading C. */
    private static void scaleC(int m, int n, float beta, float[] bias, MemorySegment c, long cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            long row = cOff + (long) i * ldc;
            for (int j = 0; j < n; j++) {
                float v = beta == 0 ? 0 : beta * c.getAtIndex(F, row + j);
                if (bias != null) v += bias[j];
                c.setAtIndex(F, row + j, v);
            }
        }
    }

    static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }
}
