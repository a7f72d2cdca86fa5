package dev.sdj.rng;

/**
 * One lane of {@code log256_ps} and {@code sincos256_ps} from torch's aten/src/ATen/native/cpu/avx_mathfun.h
 * (Giovanni Garberoglio's AVX port of Julien Pommier's sse_mathfun, itself the cephes logf/sinf/cosf),
 * in float arithmetic, as torch's AVX2 {@code normal_fill} evaluates them.
 *
 * <p>torch compiles its AVX2 kernels with GCC, {@code -mavx2 -mfma}, and GCC's default
 * {@code -ffp-contract=fast} for C++: GCC's {@code _mm256_mul_ps}/{@code _mm256_add_ps} are plain vector
 * operators, so a product whose only uses are additions is fused into an FMA. {@link #madd} marks each
 * contraction GCC's widening_mul pass makes (statement by statement, the first product of a sum is fused).
 * Without them about 1% of the golden values come out one ulp off; with them all are bit-identical.
 */
final class AvxMathFun {
    private AvxMathFun() {}

    // _PS256_CONST: double literals stored into float arrays, hence (float) casts of double literals.
    private static final float SQRTHF = (float) 0.707106781186547524;
    private static final float LOG_P0 = (float) 7.0376836292E-2;
    private static final float LOG_P1 = (float) -1.1514610310E-1;
    private static final float LOG_P2 = (float) 1.1676998740E-1;
    private static final float LOG_P3 = (float) -1.2420140846E-1;
    private static final float LOG_P4 = (float) +1.4249322787E-1;
    private static final float LOG_P5 = (float) -1.6668057665E-1;
    private static final float LOG_P6 = (float) +2.0000714765E-1;
    private static final float LOG_P7 = (float) -2.4999993993E-1;
    private static final float LOG_P8 = (float) +3.3333331174E-1;
    private static final float LOG_Q1 = (float) -2.12194440e-4;
    private static final float LOG_Q2 = (float) 0.693359375;

    private static final float MINUS_DP1 = (float) -0.78515625;
    private static final float MINUS_DP2 = (float) -2.4187564849853515625e-4;
    private static final float MINUS_DP3 = (float) -3.77489497744594108e-8;
    private static final float SINCOF_P0 = (float) -1.9515295891E-4;
    private static final float SINCOF_P1 = (float) 8.3321608736E-3;
    private static final float SINCOF_P2 = (float) -1.6666654611E-1;
    private static final float COSCOF_P0 = (float) 2.443315711809948E-005;
    private static final float COSCOF_P1 = (float) -1.388731625493765E-003;
    private static final float COSCOF_P2 = (float) 4.166664568298827E-002;
    private static final float FOPI = (float) 1.27323954473516; // 4 / M_PI

    /** _mm256_add_ps(_mm256_mul_ps(a, b), c) as GCC contracts it: one rounding (vfmadd). */
    private static float madd(float a, float b, float c) {
        return Math.fma(a, b, c);
    }

    /** mask ? v : +0 (_mm256_and_ps with an all-ones / all-zeros lane). */
    private static float and(boolean mask, float v) {
        return mask ? v : 0f;
    }

    /** log256_ps for one lane: natural logarithm; NaN for x &lt;= 0. */
    static float log(float x) {
        boolean invalid = x <= 0f; // _mm256_cmp_ps(x, 0, _CMP_LE_OS)
        x = Math.max(x, Float.MIN_NORMAL); // cut off denormalized stuff (min_norm_pos)
        int bits = Float.floatToRawIntBits(x);
        int imm0 = bits >>> 23;
        // keep only the fractional part
        x = Float.intBitsToFloat((bits & ~0x7f800000) | Float.floatToRawIntBits(0.5f));
        imm0 -= 0x7f;
        float e = (float) imm0;
        e = e + 1f;
        // if (x < SQRTHF) { e -= 1; x = x + x - 1.0; } else { x = x - 1.0; }
        boolean mask = x < SQRTHF;
        float tmp = and(mask, x);
        x = x - 1f;
        e = e - and(mask, 1f);
        x = x + tmp;

        float z = x * x;
        float y = madd(LOG_P0, x, LOG_P1);
        y = madd(y, x, LOG_P2);
        y = madd(y, x, LOG_P3);
        y = madd(y, x, LOG_P4);
        y = madd(y, x, LOG_P5);
        y = madd(y, x, LOG_P6);
        y = madd(y, x, LOG_P7);
        y = madd(y, x, LOG_P8);
        y = y * x;
        // y = y*z; tmp = e*q1; y = y + tmp: GCC fuses the first product, y*z, with the addition.
        y = madd(y, z, e * LOG_Q1);
        // tmp = z*0.5; y = y - tmp
        y = madd(-z, 0.5f, y);
        // tmp = e*q2; x = x + y; x = x + tmp
        x = x + y;
        x = madd(e, LOG_Q2, x);
        return invalid ? Float.NaN : x;
    }

    /** sincos256_ps for one lane: out[0] = sin(x), out[1] = cos(x). */
    static void sincos(float x, float[] out) {
        int signBitSin = Float.floatToRawIntBits(x) & 0x80000000;
        x = Math.abs(x);
        float y = x * FOPI; // scale by 4/Pi
        int imm2 = (int) y; // _mm256_cvttps_epi32 (truncation)
        imm2 = (imm2 + 1) & ~1; // j = (j+1) & (~1)
        y = (float) imm2;
        int imm4 = imm2;
        int swapSignBitSin = (imm2 & 4) << 29;
        boolean polyMask = (imm2 & 2) == 0;

        // The magic pass: x = ((x - y * DP1) - y * DP2) - y * DP3
        x = madd(y, MINUS_DP1, x);
        x = madd(y, MINUS_DP2, x);
        x = madd(y, MINUS_DP3, x);

        imm4 = imm4 - 2;
        int signBitCos = (~imm4 & 4) << 29;
        signBitSin ^= swapSignBitSin;

        // first polynom (0 <= x <= Pi/4): cos
        float z = x * x;
        float yc = madd(COSCOF_P0, z, COSCOF_P1);
        yc = madd(yc, z, COSCOF_P2);
        yc = yc * z;
        // y = y*z; tmp = z*0.5; y = y - tmp: GCC fuses y*z with the subtraction.
        yc = madd(yc, z, -(z * 0.5f));
        yc = yc + 1f;

        // second polynom (Pi/4 <= x <= 0): sin
        float y2 = madd(SINCOF_P0, z, SINCOF_P1);
        y2 = madd(y2, z, SINCOF_P2);
        y2 = y2 * z;
        y2 = madd(y2, x, x);

        // select the correct result from the two polynoms
        float ysin2 = and(polyMask, y2);
        float ysin1 = and(!polyMask, yc);
        y2 = y2 - ysin2;
        yc = yc - ysin1;
        float s = ysin1 + ysin2;
        float c = yc + y2;
        out[0] = Float.intBitsToFloat(Float.floatToRawIntBits(s) ^ signBitSin);
        out[1] = Float.intBitsToFloat(Float.floatToRawIntBits(c) ^ signBitCos);
    }
}
