package dev.sdj.backend;

import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A {@link Backend} decorator that counts what a model asks of the backend it wraps: the
 * floating-point operations of the matrix ops, computed from the shapes, and optionally the time
 * spent in each kind of op. Every call is delegated unchanged; results are the wrapped backend's.
 *
 * <p>FLOPs follow the usual 2·M·N·K convention (one multiply-add is two operations) and count only
 * the products: conv2d 2·(N·Ho·Wo)·Cout·(kh·kw·Cin), linear 2·rows·out·in, matmul 2·B·M·N·K,
 * attention 2·B·heads·Lq·Lk·(D + Dv) (Q·Kᵀ and P·V, counted in full even when causal). Biases,
 * softmax, norms and elementwise ops are not counted: they are a fraction of a percent of a U-Net's
 * work (their time, with {@code timing}, is).
 *
 * <p>With {@code timing}, each call is timed by the wall clock around the delegated call, per
 * {@link Kind} and per op and shape (for {@link #profile}). That is exact for a synchronous
 * backend such as the CPU one; an asynchronous backend's op would need a synchronize to be timed.
 * Not thread-safe: one model forward at a time.
 */
public final class CountingBackend implements Backend {

    /** What an op is, for the totals. */
    public enum Kind {
        CONV2D, LINEAR, MATMUL, ATTENTION, GROUP_NORM, LAYER_NORM, SOFTMAX, ACTIVATION, ELEMENTWISE, RESAMPLE, CONVERT
    }

    /** Totals of one op kind, or of one op at one shape. */
    public static final class Stats {
        long calls, flops, nanos;
        /** The fastest call's time and FLOPs (timing only): shows what noise or cold caches cost the rest. */
        long bestNanos = Long.MAX_VALUE, bestFlops;

        public long calls() {
            return calls;
        }

        public long flops() {
            return flops;
        }

        public long nanos() {
            return nanos;
        }
    }

    private final Backend inner;
    private final boolean timing;
    private final EnumMap<Kind, Stats> byKind = new EnumMap<>(Kind.class);
    private final Map<String, Stats> byShape = new LinkedHashMap<>();
    private long uploads, downloads;

    /** Counts FLOPs and calls only. */
    public CountingBackend(Backend inner) {
        this(inner, false);
    }

    /** With {@code timing}, also the time of each call, per kind and per op and shape. */
    public CountingBackend(Backend inner, boolean timing) {
        if (inner == null) throw new IllegalArgumentException("CountingBackend: inner backend is null");
        this.inner = inner;
        this.timing = timing;
        for (Kind k : Kind.values()) byKind.put(k, new Stats());
    }

    public Backend inner() {
        return inner;
    }

    /** FLOPs counted since construction or the last {@link #reset}. */
    public long flops() {
        long f = 0;
        for (Stats s : byKind.values()) f += s.flops;
        return f;
    }

    /** Totals of one op kind. */
    public Stats stats(Kind kind) {
        return byKind.get(kind);
    }

    /** Nanoseconds inside ops (0 without timing). */
    public long nanos() {
        long n = 0;
        for (Stats s : byKind.values()) n += s.nanos;
        return n;
    }

    public void reset() {
        for (Stats s : byKind.values()) s.calls = s.flops = s.nanos = 0;
        byShape.clear();
        uploads = downloads = 0;
    }

    // ---- FLOP formulas (public so that benchmarks and tests can use them on shapes alone) ----

    /** 2·(n·ho·wo)·cout·(kh·kw·cin). */
    public static long conv2dFlops(int n, int ho, int wo, int cout, int kh, int kw, int cin) {
        return 2L * n * ho * wo * cout * ((long) kh * kw * cin);
    }

    /** 2·rows·out·in. */
    public static long linearFlops(long rows, int in, int out) {
        return 2L * rows * in * out;
    }

    /** 2·batch·m·n·k. */
    public static long matmulFlops(int batch, int m, int n, int k) {
        return 2L * batch * m * n * (long) k;
    }

    /** 2·b·heads·lq·lk·(d + dv): Q·Kᵀ and P·V. */
    public static long attentionFlops(int b, int heads, int lq, int lk, int d, int dv) {
        return 2L * b * heads * lq * (long) lk * (d + dv);
    }

    // ---- bookkeeping ----

    private long start() {
        return timing ? System.nanoTime() : 0;
    }

    private <T> T done(Kind kind, long flops, long t0, T result, String op, Tensor... shapes) {
        Stats s = byKind.get(kind);
        s.calls++;
        s.flops += flops;
        if (timing) {
            long dt = System.nanoTime() - t0;
            s.nanos += dt;
            Stats d = byShape.computeIfAbsent(key(op, shapes), k -> new Stats());
            d.calls++;
            d.flops += flops;
            d.nanos += dt;
            if (dt < d.bestNanos) {
                d.bestNanos = dt;
                d.bestFlops = flops;
            }
        }
        return result;
    }

    private static String key(String op, Tensor... ts) {
        StringBuilder sb = new StringBuilder(op);
        for (Tensor t : ts) {
            sb.append(' ');
            if (t == null) {
                sb.append('-');
                continue;
            }
            int[] s = t.shape();
            for (int i = 0; i < s.length; i++) sb.append(i == 0 ? "" : "x").append(s[i]);
        }
        return sb.toString();
    }

    /**
     * A table of the time per op kind and the {@code top} slowest ops by shape (with timing),
     * each with calls, milliseconds, share of the op time and GFLOP/s where FLOPs are counted.
     * Totals are per {@code steps} forwards (divides every figure; 1 for raw totals).
     */
    public String profile(int top, int steps) {
        StringBuilder sb = new StringBuilder();
        double total = Math.max(1, nanos());
        double per = Math.max(1, steps);
        sb.append(String.format(Locale.ROOT, "%-13s %7s %10s %6s %9s%n", "op kind", "calls", "ms/step", "share", "GFLOP/s"));
        for (Map.Entry<Kind, Stats> e : byKind.entrySet()) {
            Stats s = e.getValue();
            if (s.calls == 0) continue;
            sb.append(String.format(Locale.ROOT, "%-13s %7.0f %10.1f %5.1f%% %9s%n", e.getKey().name().toLowerCase(Locale.ROOT),
                    s.calls / per, s.nanos / 1e6 / per, 100 * s.nanos / total, rate(s)));
        }
        if (top > 0 && !byShape.isEmpty()) {
            List<Map.Entry<String, Stats>> rows = new ArrayList<>(byShape.entrySet());
            rows.sort(Comparator.comparingLong((Map.Entry<String, Stats> e) -> e.getValue().nanos).reversed());
            sb.append(String.format(Locale.ROOT, "%nslowest ops by shape (input shapes):%n"));
            sb.append(String.format(Locale.ROOT, "%7s %10s %6s %9s %9s  %s%n", "calls", "ms/step", "share", "GFLOP/s", "best call", "op"));
            for (int i = 0; i < Math.min(top, rows.size()); i++) {
                Stats s = rows.get(i).getValue();
                String best = s.bestFlops == 0 ? "" : String.format(Locale.ROOT, "%.1f", s.bestFlops / (double) s.bestNanos);
                sb.append(String.format(Locale.ROOT, "%7.0f %10.1f %5.1f%% %9s %9s  %s%n", s.calls / per, s.nanos / 1e6 / per,
                        100 * s.nanos / total, rate(s), best, rows.get(i).getKey()));
            }
        }
        return sb.toString();
    }

    private static String rate(Stats s) {
        return s.flops == 0 || s.nanos == 0 ? "" : String.format(Locale.ROOT, "%.1f", s.flops / (double) s.nanos);
    }

    // ---- delegated ops ----

    @Override
    public String name() {
        return inner.name();
    }

    /** The wrapped backend's scope: counting must not change what memory lives how long. */
    @Override
    public Scope scope() {
        return inner.scope();
    }

    @Override
    public Tensor empty(dev.sdj.core.Layout layout, int... shape) {
        return inner.empty(layout, shape);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        inner.copy(src, dst);
    }

    @Override
    public Tensor linearCombination(float[] coefficients, java.util.List<Tensor> terms) {
        long t0 = start();
        return done(Kind.ELEMENTWISE, 0, t0, inner.linearCombination(coefficients, terms), "linearCombination", terms.getFirst());
    }

    /** Host-to-device copies since construction or {@link #reset}: {@link #upload} calls, and timestep embeddings (host timesteps in). */
    public long uploads() {
        return uploads;
    }

    /** Device-to-host copies ({@link #download} calls). */
    public long downloads() {
        return downloads;
    }

    @Override
    public Tensor upload(Tensor host) {
        uploads++;
        long t0 = start();
        return done(Kind.CONVERT, 0, t0, inner.upload(host), "upload", host);
    }

    @Override
    public Tensor download(Tensor t) {
        downloads++;
        long t0 = start();
        return done(Kind.CONVERT, 0, t0, inner.download(t), "download", t);
    }

    @Override
    public Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int strideH, int strideW, int padH, int padW) {
        long t0 = start();
        Tensor y = inner.conv2d(x, weight, bias, strideH, strideW, padH, padW);
        // y is (N, Ho, Wo, Cout); weight OHWI (Cout, kh, kw, Cin).
        long f = conv2dFlops(y.dim(0), y.dim(1), y.dim(2), y.dim(3), weight.dim(1), weight.dim(2), weight.dim(3));
        return done(Kind.CONV2D, f, t0, y, weight.dim(1) + "x" + weight.dim(2) + (strideH > 1 ? "/s" + strideH : "") + " conv2d",
                x, weight);
    }

    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        long t0 = start();
        Tensor y = inner.linear(x, weight, bias);
        long rows = x.numel() / Math.max(1, x.dim(-1));
        return done(Kind.LINEAR, linearFlops(rows, weight.dim(1), weight.dim(0)), t0, y, "linear", x, weight);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB, float alpha) {
        long t0 = start();
        Tensor y = inner.matmul(a, b, transA, transB, alpha);
        int k = transA ? a.dim(1) : a.dim(2);
        return done(Kind.MATMUL, matmulFlops(y.dim(0), y.dim(1), y.dim(2), k), t0, y, "matmul", a, b);
    }

    @Override
    public Tensor groupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, boolean silu) {
        long t0 = start();
        return done(Kind.GROUP_NORM, 0, t0, inner.groupNorm(x, groups, gamma, beta, eps, silu), silu ? "groupNorm+silu" : "groupNorm", x);
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        long t0 = start();
        return done(Kind.LAYER_NORM, 0, t0, inner.layerNorm(x, gamma, beta, eps), "layerNorm", x);
    }

    @Override
    public Tensor softmax(Tensor x) {
        long t0 = start();
        return done(Kind.SOFTMAX, 0, t0, inner.softmax(x), "softmax", x);
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, int heads, boolean causal) {
        long t0 = start();
        Tensor y = inner.attention(q, k, v, heads, causal);
        long f = attentionFlops(q.dim(0), heads, q.dim(1), k.dim(1), q.dim(2) / heads, v.dim(2) / heads);
        return done(Kind.ATTENTION, f, t0, y, "attention/" + heads + "h", q, k);
    }

    @Override
    public Tensor silu(Tensor x) {
        long t0 = start();
        return done(Kind.ACTIVATION, 0, t0, inner.silu(x), "silu", x);
    }

    @Override
    public Tensor gelu(Tensor x, boolean tanhApproximation) {
        long t0 = start();
        return done(Kind.ACTIVATION, 0, t0, inner.gelu(x, tanhApproximation), "gelu", x);
    }

    @Override
    public Tensor quickGelu(Tensor x) {
        long t0 = start();
        return done(Kind.ACTIVATION, 0, t0, inner.quickGelu(x), "quickGelu", x);
    }

    @Override
    public Tensor geglu(Tensor x) {
        long t0 = start();
        return done(Kind.ACTIVATION, 0, t0, inner.geglu(x), "geglu", x);
    }

    @Override
    public Tensor upsampleNearest(Tensor x, int outH, int outW) {
        long t0 = start();
        return done(Kind.RESAMPLE, 0, t0, inner.upsampleNearest(x, outH, outW), "upsampleNearest", x);
    }

    @Override
    public Tensor pad2d(Tensor x, int top, int bottom, int left, int right) {
        long t0 = start();
        return done(Kind.RESAMPLE, 0, t0, inner.pad2d(x, top, bottom, left, right), "pad2d", x);
    }

    @Override
    public Tensor concatChannels(Tensor a, Tensor b) {
        long t0 = start();
        return done(Kind.RESAMPLE, 0, t0, inner.concatChannels(a, b), "concatChannels", a, b);
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        long t0 = start();
        return done(Kind.ELEMENTWISE, 0, t0, inner.add(a, b), "add", a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        long t0 = start();
        return done(Kind.ELEMENTWISE, 0, t0, inner.mul(a, b), "mul", a, b);
    }

    @Override
    public Tensor scale(Tensor x, float s) {
        long t0 = start();
        return done(Kind.ELEMENTWISE, 0, t0, inner.scale(x, s), "scale", x);
    }

    @Override
    public Tensor timestepEmbedding(float[] timesteps, int dim, boolean flipSinToCos, float downscaleFreqShift,
                                    float scale, float maxPeriod) {
        uploads++; // the timesteps come from the host
        long t0 = start();
        return done(Kind.ELEMENTWISE, 0, t0,
                inner.timestepEmbedding(timesteps, dim, flipSinToCos, downscaleFreqShift, scale, maxPeriod), "timestepEmbedding");
    }

    @Override
    public Tensor cast(Tensor x, DType dtype) {
        long t0 = start();
        return done(Kind.CONVERT, 0, t0, inner.cast(x, dtype), "cast", x);
    }

    @Override
    public Tensor nchwToNhwc(Tensor x) {
        long t0 = start();
        return done(Kind.CONVERT, 0, t0, inner.nchwToNhwc(x), "nchwToNhwc", x);
    }

    @Override
    public Tensor nhwcToNchw(Tensor x) {
        long t0 = start();
        return done(Kind.CONVERT, 0, t0, inner.nhwcToNchw(x), "nhwcToNchw", x);
    }

    @Override
    public Tensor convWeight(Tensor oihw) {
        long t0 = start();
        return done(Kind.CONVERT, 0, t0, inner.convWeight(oihw), "convWeight", oihw);
    }

    @Override
    public void close() {
        inner.close();
    }
}
