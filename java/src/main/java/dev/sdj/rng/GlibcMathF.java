package dev.sdj.rng;

/**
 * glibc's single-precision {@code logf}, {@code sinf} and {@code cosf} (glibc 2.28 and later, from ARM's
 * optimized-routines: sysdeps/ieee754/flt-32/e_logf.c, s_sinf.c, s_cosf.c, s_sincosf.h, sincosf_poly.h),
 * which torch's scalar {@code normal_fill_16} calls through std::log/std::cos/std::sin on floats. They
 * evaluate in double and round once, but are not correctly rounded (logf 0.82 ulp, sinf/cosf 0.56 ulp),
 * so reproducing them, rather than rounding an exact result, is what makes the scalar kernel bit-exact.
 *
 * <p>On x86-64 CPUs with FMA, glibc picks builds of these files compiled with {@code -mfma}
 * (sysdeps/x86_64/fpu/multiarch/*-fma.c), where GCC fuses each product that feeds an addition. For the
 * arguments torch passes here (1 − u and (float) (2π·u) for every 24-bit uniform u) the fused and the
 * unfused evaluations give the same floats (checked exhaustively, all 2^24 of them), so the code below
 * is the unfused C source, literally.
 */
final class GlibcMathF {
    private GlibcMathF() {}

    // ---- logf (e_logf.c, e_logf_data.c): LOGF_TABLE_BITS = 4, LOGF_POLY_ORDER = 4 ----

    private static final int LOGF_OFF = 0x3f330000;
    private static final double[] LOGF_INVC = {
        0x1.661ec79f8f3bep+0, 0x1.571ed4aaf883dp+0, 0x1.49539f0f010bp+0, 0x1.3c995b0b80385p+0,
        0x1.30d190c8864a5p+0, 0x1.25e227b0b8eap+0, 0x1.1bb4a4a1a343fp+0, 0x1.12358f08ae5bap+0,
        0x1.0953f419900a7p+0, 0x1p+0, 0x1.e608cfd9a47acp-1, 0x1.ca4b31f026aap-1,
        0x1.b2036576afce6p-1, 0x1.9c2d163a1aa2dp-1, 0x1.886e6037841edp-1, 0x1.767dcf5534862p-1,
    };
    private static final double[] LOGF_LOGC = {
        -0x1.57bf7808caadep-2, -0x1.2bef0a7c06ddbp-2, -0x1.01eae7f513a67p-2, -0x1.b31d8a68224e9p-3,
        -0x1.6574f0ac07758p-3, -0x1.1aa2bc79c81p-3, -0x1.a4e76ce8c0e5ep-4, -0x1.1973c5a611cccp-4,
        -0x1.252f438e10c1ep-5, 0x0p+0, 0x1.aa5aa5df25984p-5, 0x1.c5e53aa362eb4p-4,
        0x1.526e57720db08p-3, 0x1.bc2860d22477p-3, 0x1.1058bc8a07ee1p-2, 0x1.4043057b6ee09p-2,
    };
    private static final double LOGF_LN2 = 0x1.62e42fefa39efp-1;
    private static final double LOGF_A0 = -0x1.00ea348b88334p-2;
    private static final double LOGF_A1 = 0x1.5575b0be00b6ap-2;
    private static final double LOGF_A2 = -0x1.ffffef20a4123p-2;

    /** glibc {@code __logf}: log(x) = log1p(z/c − 1) + log(c) + k·ln2, with a 16-entry table of c. */
    static float logf(float x) {
        int ix = Float.floatToRawIntBits(x);
        if (ix == 0x3f800000) return 0f;
        if (Integer.compareUnsigned(ix - 0x00800000, 0x7f800000 - 0x00800000) >= 0) {
            // x < 0x1p-126 or inf or nan
            if (ix * 2 == 0) return Float.NEGATIVE_INFINITY;
            if (ix == 0x7f800000) return x;
            if ((ix & 0x80000000) != 0 || Integer.compareUnsigned(ix * 2, 0xff000000) >= 0) return Float.NaN;
            // x is subnormal, normalize it
            ix = Float.floatToRawIntBits(x * 0x1p23f);
            ix -= 23 << 23;
        }
        int tmp = ix - LOGF_OFF;
        int i = (tmp >>> (23 - 4)) % 16;
        int k = tmp >> 23; // arithmetic shift
        int iz = ix - (tmp & 0x1ff << 23);
        double invc = LOGF_INVC[i];
        double logc = LOGF_LOGC[i];
        double z = Float.intBitsToFloat(iz);

        double r = z * invc - 1;
        double y0 = logc + (double) k * LOGF_LN2;
        double r2 = r * r;
        double y = LOGF_A1 * r + LOGF_A2;
        y = LOGF_A0 * r2 + y;
        y = y * r2 + (y0 + r);
        return (float) y;
    }

    // ---- sinf / cosf (s_sinf.c, s_cosf.c, s_sincosf.h, sincosf_poly.h, s_sincosf_data.c) ----

    private static final float PIO4 = 0x1.921FB6p-1f;
    private static final double[] SIGN = {1.0, -1.0, -1.0, 1.0};
    private static final double HPI_INV = 0x1.45F306DC9C883p+23; // 2/pi * 2^24 (x86-64: no TOINT_INTRINSICS)
    private static final double HPI = 0x1.921FB54442D18p0;
    // __sincosf_table: c0..c4 of entry [0] and of entry [1] (which computes −cos), then s1..s3.
    private static final double[] COS = {
        0x1p0, -0x1.ffffffd0c621cp-2, 0x1.55553e1068f19p-5, -0x1.6c087e89a359dp-10, 0x1.99343027bf8c3p-16};
    private static final double[] COS_NEG = {
        -0x1p0, 0x1.ffffffd0c621cp-2, -0x1.55553e1068f19p-5, 0x1.6c087e89a359dp-10, -0x1.99343027bf8c3p-16};
    private static final double S1 = -0x1.555545995a603p-3;
    private static final double S2 = 0x1.1107605230bc4p-7;
    private static final double S3 = -0x1.994eb3774cf24p-13;

    private static int abstop12(float x) {
        return (Float.floatToRawIntBits(x) >>> 20) & 0x7ff;
    }

    /** glibc {@code __sinf}. Arguments of magnitude 120 or more (never met here) fall back to StrictMath. */
    static float sinf(float y) {
        double x = y;
        if (abstop12(y) < abstop12(PIO4)) {
            double s = x * x;
            if (abstop12(y) < abstop12(0x1p-12f)) return y;
            return sinfPoly(x, s, false, 0);
        } else if (abstop12(y) < abstop12(120.0f)) {
            int n = reduceQuadrant(x);
            x = reduceFast(x, n);
            double s = SIGN[n & 3];
            return sinfPoly(x * s, x * x, (n & 2) != 0, n);
        }
        return (float) StrictMath.sin(y); // reduce_large: not reachable for Box–Muller angles in [0, 2π)
    }

    /** glibc {@code __cosf}. Arguments of magnitude 120 or more (never met here) fall back to StrictMath. */
    static float cosf(float y) {
        double x = y;
        if (abstop12(y) < abstop12(PIO4)) {
            double x2 = x * x;
            if (abstop12(y) < abstop12(0x1p-12f)) return 1.0f;
            return sinfPoly(x, x2, false, 1);
        } else if (abstop12(y) < abstop12(120.0f)) {
            int n = reduceQuadrant(x);
            x = reduceFast(x, n);
            double s = SIGN[n & 3];
            return sinfPoly(x * s, x * x, (n & 2) != 0, n ^ 1);
        }
        return (float) StrictMath.cos(y);
    }

    /** reduce_fast, quadrant part: n = ((int32_t) (x · hpi_inv) + 0x800000) &gt;&gt; 24. */
    private static int reduceQuadrant(double x) {
        double r = x * HPI_INV;
        return ((int) r + 0x800000) >> 24;
    }

    /** reduce_fast, remainder part: x − n·π/2. */
    private static double reduceFast(double x, int n) {
        return x - n * HPI;
    }

    /** sinf_poly: the sine polynomial for even n, else the cosine one (negated when {@code negCos}, table entry 1). */
    private static float sinfPoly(double x, double x2, boolean negCos, int n) {
        if ((n & 1) == 0) {
            double x3 = x * x2;
            double s1 = S2 + x2 * S3;
            double x7 = x3 * x2;
            double s = x + x3 * S1;
            return (float) (s + x7 * s1);
        } else {
            double[] p = negCos ? COS_NEG : COS;
            double x4 = x2 * x2;
            double c2 = p[3] + x2 * p[4];
            double c1 = p[0] + x2 * p[1];
            double x6 = x4 * x2;
            double c = c1 + x4 * p[2];
            return (float) (c + x6 * c2);
        }
    }
}
