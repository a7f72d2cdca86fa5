package dev.sdj.backend.cpu;

/**
 * Straightforward float64 versions of the backend's ops, written from the PyTorch / diffusers
 * definitions with plain loops and no shared code with the backend. Arrays are row-major with the
 * shapes given alongside.
 */
final class Reference64 {
    private Reference64() {}

    /** x NHWC (n, h, w, cin), weight OHWI (cout, kh, kw, cin), bias (cout) or null → NHWC. */
    static double[] conv2d(double[] x, int n, int h, int w, int cin, double[] weight, int cout, int kh, int kw,
                           double[] bias, int sh, int sw, int ph, int pw) {
        int ho = (h + 2 * ph - kh) / sh + 1, wo = (w + 2 * pw - kw) / sw + 1;
        double[] out = new double[n * ho * wo * cout];
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                    for (int co = 0; co < cout; co++) {
                        double acc = bias == null ? 0 : bias[co];
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++)
                                for (int ci = 0; ci < cin; ci++) {
                                    int iy = oy * sh - ph + ky, ix = ox * sw - pw + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    acc += x[((b * h + iy) * w + ix) * cin + ci] * weight[((co * kh + ky) * kw + kx) * cin + ci];
                                }
                        out[((b * ho + oy) * wo + ox) * cout + co] = acc;
                    }
        return out;
    }

    /** x (rows, in) · weight (out, in)ᵀ + bias. */
    static double[] linear(double[] x, int rows, int in, double[] weight, int outF, double[] bias) {
        double[] y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++) {
                double acc = bias == null ? 0 : bias[o];
                for (int i = 0; i < in; i++) acc += x[r * in + i] * weight[o * in + i];
                y[r * outF + o] = acc;
            }
        return y;
    }

    /** alpha · op(a) · op(b) per batch; a stored (batch, a1, a2), b stored (batch, b1, b2). */
    static double[] matmul(double[] a, int batch, int a1, int a2, double[] b, int b1, int b2,
                           boolean transA, boolean transB, double alpha) {
        int m = transA ? a2 : a1, k = transA ? a1 : a2, n = transB ? b1 : b2;
        double[] c = new double[batch * m * n];
        for (int bt = 0; bt < batch; bt++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double acc = 0;
                    for (int p = 0; p < k; p++) {
                        double av = transA ? a[bt * a1 * a2 + p * a2 + i] : a[bt * a1 * a2 + i * a2 + p];
                        double bv = transB ? b[bt * b1 * b2 + j * b2 + p] : b[bt * b1 * b2 + p * b2 + j];
                        acc += av * bv;
                    }
                    c[(bt * m + i) * n + j] = alpha * acc;
                }
        return c;
    }

    /** torch.nn.GroupNorm on NHWC data: per (sample, group) mean and biased variance. */
    static double[] groupNorm(double[] x, int n, int hw, int c, int groups, double[] gamma, double[] beta,
                              double eps, boolean silu) {
        double[] y = new double[x.length];
        int cg = c / groups;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                double sum = 0;
                for (int p = 0; p < hw; p++)
                    for (int ch = g * cg; ch < (g + 1) * cg; ch++) sum += x[(b * hw + p) * c + ch];
                double mean = sum / (hw * cg);
                double sq = 0;
                for (int p = 0; p < hw; p++)
                    for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                        double d = x[(b * hw + p) * c + ch] - mean;
                        sq += d * d;
                    }
                double var = sq / (hw * cg);
                for (int p = 0; p < hw; p++)
                    for (int ch = g * cg; ch < (g + 1) * cg; ch++) {
                        int i = (b * hw + p) * c + ch;
                        double v = (x[i] - mean) / Math.sqrt(var + eps) * gamma[ch] + beta[ch];
                        y[i] = silu ? silu(v) : v;
                    }
            }
        return y;
    }

    static double[] layerNorm(double[] x, int rows, int c, double[] gamma, double[] beta, double eps) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int j = 0; j < c; j++) mean += x[r * c + j];
            mean /= c;
            for (int j = 0; j < c; j++) var += (x[r * c + j] - mean) * (x[r * c + j] - mean);
            var /= c;
            for (int j = 0; j < c; j++) {
                double v = (x[r * c + j] - mean) / Math.sqrt(var + eps);
                if (gamma != null) v *= gamma[j];
                if (beta != null) v += beta[j];
                y[r * c + j] = v;
            }
        }
        return y;
    }

    static double[] softmax(double[] x, int rows, int c) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < c; j++) max = Math.max(max, x[r * c + j]);
            for (int j = 0; j < c; j++) sum += Math.exp(x[r * c + j] - max);
            for (int j = 0; j < c; j++) y[r * c + j] = Math.exp(x[r * c + j] - max) / sum;
        }
        return y;
    }

    /**
     * softmax(q·kᵀ/√d + mask) · v per (batch, head); head h is channels h·d … h·d+d−1 of q and k and
     * h·dv … of v. The causal mask gives keys j > i the score −∞.
     */
    static double[] attention(double[] q, double[] k, double[] v, int b, int lq, int lk, int heads, int d, int dv,
                              boolean causal) {
        double[] out = new double[b * lq * heads * dv];
        double scale = 1 / Math.sqrt(d);
        for (int bt = 0; bt < b; bt++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < lq; i++) {
                    double[] s = new double[lk];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < lk; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += q[(bt * lq + i) * heads * d + h * d + e] * k[(bt * lk + j) * heads * d + h * d + e];
                        }
                        s[j] = causal && j > i ? Double.NEGATIVE_INFINITY : dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < lk; j++) sum += s[j] = Math.exp(s[j] - max);
                    for (int e = 0; e < dv; e++) {
                        double acc = 0;
                        for (int j = 0; j < lk; j++) acc += s[j] / sum * v[(bt * lk + j) * heads * dv + h * dv + e];
                        out[(bt * lq + i) * heads * dv + h * dv + e] = acc;
                    }
                }
        return out;
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    static double geluErf(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    static double quickGelu(double x) {
        return x / (1 + Math.exp(-1.702 * x));
    }

    /**
     * erf by its everywhere-convergent series of positive terms,
     * erf(x) = 2/√π · e^(−x²) · Σ_n 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), which has no cancellation; beyond
     * |x| = 6 erf is ±1 to double precision.
     */
    static double erf(double x) {
        double ax = Math.abs(x);
        if (ax > 6) return Math.signum(x);
        double term = ax, sum = ax;
        for (int n = 0; n < 500 && term > 1e-18 * sum; n++) {
            term *= 2 * ax * ax / (2 * n + 3);
            sum += term;
        }
        return Math.copySign(2 / Math.sqrt(Math.PI) * Math.exp(-ax * ax) * sum, x);
    }

    /** rows of 2c → hidden · gelu(gate). */
    static double[] geglu(double[] x, int rows, int c) {
        double[] y = new double[rows * c];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < c; j++) y[r * c + j] = x[r * 2 * c + j] * geluErf(x[r * 2 * c + c + j]);
        return y;
    }

    /**
     * PyTorch's nearest rule (aten/src/ATen/native/UpSample.h): same size → identity, exactly 2× →
     * dst/2, otherwise min(floorf(dst · (float) in/out), in − 1), all in float as there.
     */
    static int nearestSource(int dst, int in, int out) {
        if (out == in) return dst;
        if (out == 2 * in) return dst / 2;
        float scale = (float) in / (float) out;
        float product = (float) dst * scale;
        return Math.min((int) Math.floor(product), in - 1);
    }

    static double[] upsampleNearest(double[] x, int n, int h, int w, int c, int oh, int ow) {
        double[] y = new double[n * oh * ow * c];
        for (int b = 0; b < n; b++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int ch = 0; ch < c; ch++) {
                        int iy = nearestSource(oy, h, oh), ix = nearestSource(ox, w, ow);
                        y[((b * oh + oy) * ow + ox) * c + ch] = x[((b * h + iy) * w + ix) * c + ch];
                    }
        return y;
    }

    /** Zero padding of NHWC x by (top, bottom, left, right). */
    static double[] pad2d(double[] x, int n, int h, int w, int c, int top, int bottom, int left, int right) {
        int oh = h + top + bottom, ow = w + left + right;
        double[] y = new double[n * oh * ow * c];
        for (int b = 0; b < n; b++)
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++)
                    for (int ch = 0; ch < c; ch++)
                        y[((b * oh + iy + top) * ow + ix + left) * c + ch] = x[((b * h + iy) * w + ix) * c + ch];
        return y;
    }

    /** NumPy broadcasting of b (rank ≤ a's) into a's shape, elementwise op (true: add, false: mul). */
    static double[] broadcast(double[] a, int[] aShape, double[] b, int[] bShape, boolean add) {
        double[] y = new double[a.length];
        int rank = aShape.length;
        int[] idx = new int[rank];
        for (int i = 0; i < a.length; i++) {
            int rem = i;
            for (int d = rank - 1; d >= 0; d--) {
                idx[d] = rem % aShape[d];
                rem /= aShape[d];
            }
            int bi = 0;
            for (int d = 0; d < bShape.length; d++) {
                int ad = rank - bShape.length + d;
                bi = bi * bShape[d] + (bShape[d] == 1 ? 0 : idx[ad]);
            }
            y[i] = add ? a[i] + b[bi] : a[i] * b[bi];
        }
        return y;
    }

    /**
     * get_timestep_embedding with every step in double: the mathematical values the float32
     * version approximates.
     */
    static double[] timestepEmbedding(double[] t, int dim, boolean flip, double shift, double scale, double maxPeriod) {
        int half = dim / 2;
        double[] y = new double[t.length * dim];
        for (int r = 0; r < t.length; r++)
            for (int i = 0; i < half; i++) {
                double arg = scale * t[r] * Math.exp(-Math.log(maxPeriod) * i / (half - shift));
                y[r * dim + (flip ? half : 0) + i] = Math.sin(arg);
                y[r * dim + (flip ? 0 : half) + i] = Math.cos(arg);
            }
        return y;
    }
}
