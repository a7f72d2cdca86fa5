package dev.sdj.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * 2-D convolution on host fp32, NHWC input, OHWI weights, groups = 1. PLACEHOLDER implementation
 * (direct loops); the implicit-GEMM version replaces the body, the signature stays.
 */
public final class Conv2d {
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Conv2d() {}

    public static int outSize(int in, int kernel, int stride, int pad) {
        return (in + 2 * pad - kernel) / stride + 1;
    }

    /** out (n, ho, wo, cout) = conv(x (n, h, w, cin), weight (cout, kh, kw, cin)) + bias (cout, nullable). */
    public static void forward(MemorySegment x, int n, int h, int w, int cin,
                               MemorySegment weight, int cout, int kh, int kw, MemorySegment bias,
                               int strideH, int strideW, int padH, int padW, MemorySegment out) {
        int ho = outSize(h, kh, strideH, padH), wo = outSize(w, kw, strideW, padW);
        Parallel.forRange(n * ho, 1, (s, e) -> {
            for (int row = s; row < e; row++) {
                int b = row / ho, oy = row % ho;
                for (int ox = 0; ox < wo; ox++) {
                    for (int co = 0; co < cout; co++) {
                        float acc = bias == null ? 0 : bias.getAtIndex(F, co);
                        for (int ky = 0; ky < kh; ky++) {
                            int iy = oy * strideH - padH + ky;
                            if (iy < 0 || iy >= h) continue;
                            for (int kx = 0; kx < kw; kx++) {
                                int ix = ox * strideW - padW + kx;
                                if (ix < 0 || ix >= w) continue;
                                long xi = (((long) b * h + iy) * w + ix) * cin;
                                long wi = (((long) co * kh + ky) * kw + kx) * cin;
                                for (int ci = 0; ci < cin; ci++) acc += x.getAtIndex(F, xi + ci) * weight.getAtIndex(F, wi + ci);
                            }
                        }
                        out.setAtIndex(F, (((long) b * ho + oy) * wo + ox) * cout + co, acc);
                    }
                }
            }
        });
    }
}
