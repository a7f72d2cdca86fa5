package dev.sdj.model.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.Backend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.core.Tensor;
import dev.sdj.io.SafeTensorsFile;
import dev.sdj.model.SafeTensorsWeights;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The tiny golden encoder (tests/golden/clip/text-encoder-tiny): causal mask, pooling, clip skip, input checks. */
class ClipTextModelTest {
    private static Backend cpu;
    private static CLIPTextModel model;
    private static int[][] goldenIds;

    @BeforeAll
    static void load() throws Exception {
        cpu = new CpuBackend();
        model = CLIPTextModel.load(ClipTextConfigTest.TINY, cpu);
        try (SafeTensorsFile f = SafeTensorsFile.open(ClipTextConfigTest.TINY.resolve("outputs.safetensors"))) {
            goldenIds = CLIPTextModel.ids(f.tensor("input_ids"));
        }
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
        if (cpu != null) cpu.close();
    }

    @Test
    void laterTokensDoNotChangeEarlierPositions() {
        int[] a = goldenIds[0].clone(), b = a.clone();
        int k = 3;
        b[k] = a[k] == 1000 ? 1001 : 1000;
        for (int i = k + 1; i < b.length; i++) b[i] = 400 + i; // every later token differs too
        CLIPTextModel.Output o = model.forward(new int[][] {a, b});
        int d = model.config().hiddenSize(), len = a.length;
        for (Tensor t : new Tensor[] {o.lastHiddenState(), o.hiddenState(1), o.hiddenState(2), o.hiddenState(3)}) {
            float[] v = t.toFloatArray();
            // Row 1 equals row 0 exactly before position k, and differs from k on.
            assertArrayEquals(Arrays.copyOfRange(v, 0, k * d), Arrays.copyOfRange(v, len * d, (len + k) * d));
            for (int i = k; i < len; i++) {
                assertFalse(Arrays.equals(Arrays.copyOfRange(v, i * d, (i + 1) * d), Arrays.copyOfRange(v, (len + i) * d, (len + i + 1) * d)),
                        "position " + i + " must see the changed tokens");
            }
        }
    }

    @Test
    void pooledOutputIsTheLastHiddenStateAtTheFirstEos() {
        CLIPTextModel.Output o = model.forward(goldenIds);
        float[] last = o.lastHiddenState().toFloatArray(), pooled = o.pooledOutput().toFloatArray();
        int d = model.config().hiddenSize(), len = goldenIds[0].length;
        for (int r = 0; r < goldenIds.length; r++) {
            int eos = firstIndexOf(goldenIds[r], 49407);
            assertEquals(eos, model.eosPosition(goldenIds[r]));
            int at = (r * len + eos) * d;
            assertArrayEquals(Arrays.copyOfRange(last, at, at + d), Arrays.copyOfRange(pooled, r * d, (r + 1) * d));
        }
        assertEquals(1, model.eosPosition(goldenIds[1])); // "": BOS then EOS
    }

    @Test
    void eosPositionRules() {
        int[] padEos = {49406, 320, 2368, 49407, 49407, 49407};
        int[] padZero = {49406, 320, 2368, 49407, 0, 0};
        // eos_token_id 2 (diffusers' configs): argmax, the first of equal maxima
        assertEquals(3, CLIPTextTransformer.eosPosition(padEos, 2));
        assertEquals(3, CLIPTextTransformer.eosPosition(padZero, 2));
        // any other eos_token_id: the first position holding it, else 0
        assertEquals(3, CLIPTextTransformer.eosPosition(padEos, 49407));
        assertEquals(2, CLIPTextTransformer.eosPosition(padZero, 2368));
        assertEquals(0, CLIPTextTransformer.eosPosition(padZero, 5));
    }

    @Test
    void clipSkipAndHiddenStates() {
        CLIPTextModel.Output o = model.forward(goldenIds);
        assertEquals(3, o.hiddenStates().size());
        assertSame(o.lastHiddenState(), model.clipSkip(o, 1));
        assertSame(o.hiddenStates().get(1), o.penultimate());
        assertSame(o.hiddenStates().get(2), o.hiddenState(1));
        assertArrayEquals(model.finalLayerNorm(o.hiddenStates().get(1)).toFloatArray(), model.clipSkip(o, 2).toFloatArray());
        assertArrayEquals(model.finalLayerNorm(o.hiddenState(1)).toFloatArray(), o.lastHiddenState().toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> o.hiddenState(4));
        assertThrows(IllegalArgumentException.class, () -> model.clipSkip(o, 0));
    }

    @Test
    void shorterSequencesUseTheFirstPositions() {
        int[] ids = Arrays.copyOf(goldenIds[0], 10);
        CLIPTextModel.Output full = model.forward(new int[][] {goldenIds[0]}), part = model.forward(new int[][] {ids});
        float[] a = full.hiddenState(1).toFloatArray(), b = part.hiddenState(1).toFloatArray();
        int d = model.config().hiddenSize();
        // causal: the first 10 positions of the 77-token run, up to rounding of the attention's blocking
        for (int i = 0; i < 10 * d; i++) assertEquals(a[i], b[i], 1e-5f);
    }

    @Test
    void badIdsAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {}));
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {{1, 2}, {1}}));
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {{49406, 49408}}));
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {{-1}}));
        assertThrows(IllegalArgumentException.class, () -> model.forward(new int[][] {new int[78]}));
    }

    @Test
    void projectionFromItsOwnFileGivesTheGoldenTextEmbeds() throws Exception {
        CLIPTextConfig c = CLIPTextConfig.read(ClipTextConfigTest.TINY.resolve("config.json")).withProjection(true);
        try (SafeTensorsFile proj = SafeTensorsFile.open(ClipTextConfigTest.TINY.resolve("text_projection.safetensors"));
             SafeTensorsFile out = SafeTensorsFile.open(ClipTextConfigTest.TINY.resolve("outputs.safetensors"));
             CLIPTextModel te = new CLIPTextModel(c, ClipCheckpointTest.merged(
                     SafeTensorsWeights.open(ClipTextConfigTest.TINY.resolve("model.safetensors")), proj), cpu)) {
            CLIPTextModel.Output o = te.forward(goldenIds);
            assertClose(out.tensor("text_embeds"), o.textEmbeds(), 1e-5);
        }
    }

    static void assertClose(Tensor expected, Tensor got, double tol) {
        assertArrayEquals(expected.shape(), got.shape());
        float[] e = expected.toFloatArray(), g = got.toFloatArray();
        double worst = 0;
        for (int i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(e[i] - g[i]));
        assertTrue(worst <= tol, "max_abs " + worst + " over " + tol);
    }

    private static int firstIndexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }
}
