package dev.sdj.backend.cpu;

import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The same input gives the same bits, cold or warm: the first call (interpreted, C1) and calls after the JIT
 * has compiled the vector loops with C2 must agree exactly. (The Vector API's EXP/TANH did not: SVML once
 * compiled, Math.exp per lane before; an identical U-Net forward then differed at ~1e-7 between runs.)
 */
class CpuDeterminismTest {

    @Test
    void activationsAndSoftmaxGiveTheSameBitsColdAndWarm() {
        CpuBackend b = new CpuBackend();
        Random rnd = new Random(3);
        float[] v = new float[4098]; // not a multiple of any vector length: tails too
        for (int i = 0; i < v.length; i++) v[i] = (float) (rnd.nextGaussian() * 4);
        List<Function<Tensor, Tensor>> ops = List.of(b::silu, t -> b.gelu(t, false), t -> b.gelu(t, true), b::quickGelu,
                b::softmax, b::geglu);
        Tensor x = Tensor.of(v, Layout.PLAIN, 1, v.length);
        float[][] cold = new float[ops.size()][];
        for (int i = 0; i < ops.size(); i++) cold[i] = ops.get(i).apply(x).toFloatArray();
        Tensor small = Tensor.of(Arrays.copyOf(v, 256), Layout.PLAIN, 1, 256);
        for (int rep = 0; rep < 3000; rep++) {
            for (Function<Tensor, Tensor> op : ops) op.apply(small);
        }
        for (int i = 0; i < ops.size(); i++) {
            assertArrayEquals(cold[i], ops.get(i).apply(x).toFloatArray(), "op " + i + " cold vs warm");
        }
    }
}
