package dev.sdj.backend.cpu;

import static dev.sdj.backend.cpu.CpuTestSupport.random;
import static dev.sdj.backend.cpu.CpuTestSupport.segment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Conv2d (implicit GEMM) against a float64 direct convolution. */
class Conv2dTest {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static void check(int n, int h, int w, int cin, int cout, int kh, int kw, int stride, int pad, boolean withBias,
                              Arena arena, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = random(rnd, n * h * w * cin), wt = random(rnd, cout * kh * kw * cin), bias = random(rnd, cout);
        int ho = Conv2d.outSize(h, kh, stride, pad), wo = Conv2d.outSize(w, kw, stride, pad);
        float[] poison = new float[n * ho * wo * cout];
        java.util.Arrays.fill(poison, Float.NaN); // out's old content must not matter
        MemorySegment out = segment(poison, arena);
        Conv2d.forward(segment(x, arena), n, h, w, cin, segment(wt, arena), cout, kh, kw, withBias ? segment(bias, arena) : null,
                stride, stride, pad, pad, out);
        String what = n + "x" + h + "x" + w + "x" + cin + " -> " + cout + " k" + kh + "x" + kw + " s" + stride + " p" + pad
                + (withBias ? " bias" : "") + (arena != null ? " native" : "");
        for (int b = 0; b < n; b++) {
            for (int oy = 0; oy < ho; oy++) {
                for (int ox = 0; ox < wo; ox++) {
                    for (int co = 0; co < cout; co++) {
                        double acc = withBias ? bias[co] : 0, mag = Math.abs(acc);
                        for (int ky = 0; ky < kh; ky++) {
                            int iy = oy * stride - pad + ky;
                            if (iy < 0 || iy >= h) continue;
                            for (int kx = 0; kx < kw; kx++) {
                                int ix = ox * stride - pad + kx;
                                if (ix < 0 || ix >= w) continue;
                                for (int ci = 0; ci < cin; ci++) {
                                    double p = (double) x[((b * h + iy) * w + ix) * cin + ci] * wt[((co * kh + ky) * kw + kx) * cin + ci];
                                    acc += p;
                                    mag += Math.abs(p);
                                }
                            }
                        }
                        float got = out.getAtIndex(F, (((long) b * ho + oy) * wo + ox) * cout + co);
                        double tol = 2e-6 * (Math.sqrt(kh * kw * cin) + 2) * mag + 1e-30;
                        if (!(Math.abs(got - acc) <= tol)) {
                            fail(what + ": out[" + b + "," + oy + "," + ox + "," + co + "] = " + got + ", want " + acc);
                        }
                    }
                }
            }
        }
    }

    @Test
    void kernelsStridesPaddingsChannels() {
        int[][] kernels = {{1, 1}, {3, 3}, {3, 1}};
        int[] channels = {3, 5, 17, 33};
        long seed = 1;
        for (int[] k : kernels) {
            for (int stride = 1; stride <= 2; stride++) {
                for (int pad = 0; pad <= 2; pad++) {
                    for (int ci = 0; ci < channels.length; ci++) {
                        int cin = channels[ci], cout = channels[(ci + 1 + stride + pad) % channels.length];
                        check(2, 7, 11, cin, cout, k[0], k[1], stride, pad, (seed & 1) == 0, null, seed++);
                    }
                }
            }
        }
    }

    @Test
    void deepChannelsCrossKBlocks() {
        // depth 9·67 = 603 > 2 K blocks; runs of 67 floats straddle the block boundaries.
        check(2, 7, 11, 67, 40, 3, 3, 1, 1, true, null, 100);
        check(1, 9, 5, 130, 33, 1, 1, 1, 0, true, null, 101); // 1×1 direct GEMM path, several K panels
    }

    @Test
    void largeEnoughForParallelPath() {
        check(2, 16, 13, 32, 48, 3, 3, 1, 1, true, null, 200);
        check(2, 16, 13, 32, 48, 3, 3, 2, 1, false, null, 201);
    }

    @Test
    void nativeSegments() {
        try (Arena arena = Arena.ofShared()) {
            check(2, 7, 11, 17, 33, 3, 3, 1, 1, true, arena, 300);
            check(2, 7, 11, 5, 17, 1, 1, 1, 0, false, arena, 301);
        }
    }

    @Test
    void outputSize() {
        assertEquals(64, Conv2d.outSize(64, 3, 1, 1));
        assertEquals(32, Conv2d.outSize(64, 3, 2, 1));
        assertEquals(5, Conv2d.outSize(11, 3, 2, 0));
    }
}
