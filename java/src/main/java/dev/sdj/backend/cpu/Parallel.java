package dev.sdj.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/** Splits index ranges over the common fork-join pool; the calling thread takes part. */
public final class Parallel {
    private Parallel() {}

    /** Worker count: the common pool's parallelism plus the caller. */
    public static int threads() {
        return Math.max(1, ForkJoinPool.getCommonPoolParallelism() + 1);
    }

    /** A piece of [0, n) given to one task. */
    @FunctionalInterface
    public interface Range {
        void run(int start, int end);
    }

    /** Runs body(i) for every i in [0, n), each i once, spread over all threads. */
    public static void forEach(int n, IntConsumer body) {
        forRange(n, 1, (s, e) -> {
            for (int i = s; i < e; i++) body.accept(i);
        });
    }

    /**
     * Cuts [0, n) into about {@code 4·threads()} contiguous pieces of at least {@code grain}
     * indices and runs them in parallel; runs inline when there is only one piece.
     */
    public static void forRange(int n, int grain, Range body) {
        if (n <= 0) return;
        int pieces = (int) Math.min((long) threads() * 4, Math.max(1, n / Math.max(1, grain)));
        if (pieces <= 1 || threads() == 1) {
            body.run(0, n);
            return;
        }
        new Split(0, n, pieces, body).invoke();
    }

    private static final class Split extends RecursiveAction {
        private final int start, end, pieces;
        private final Range body;

        Split(int start, int end, int pieces, Range body) {
            this.start = start;
            this.end = end;
            this.pieces = pieces;
            this.body = body;
        }

        @Override
        protected void compute() {
            if (pieces <= 1) {
                body.run(start, end);
                return;
            }
            int leftPieces = pieces / 2;
            int mid = start + (int) ((long) (end - start) * leftPieces / pieces);
            invokeAll(new Split(start, mid, leftPieces, body), new Split(mid, end, pieces - leftPieces, body));
        }
    }
}
