package dev.sdj.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.golden.Tolerance.Limits;
import org.junit.jupiter.api.Test;

class ToleranceTest {

    private static JsonNode json(String s) throws Exception {
        return new ObjectMapper().readTree(s);
    }

    @Test
    void topLevelLimitsApplyToEveryOutput() throws Exception {
        Tolerance t = Tolerance.parse(json("{\"max_abs\": 1e-4, \"rel_l2\": 1e-5}"));
        assertEquals(new Limits(1e-4, 1e-5), t.forOutput("output"));
    }

    @Test
    void aPerOutputEntryReplacesTheTopLevelLimitsOfItsOutput() throws Exception {
        // As the scheduler-schedule cases write it: timesteps exact, sigmas relative only.
        Tolerance t = Tolerance.parse(json("""
                {"max_abs": 0.0, "per_output": {"timesteps": {"max_abs": 0.0}, "sigmas": {"rel_l2": 1e-06}}}"""));
        assertEquals(new Limits(0.0, null), t.forOutput("timesteps"));
        assertEquals(new Limits(null, 1e-6), t.forOutput("sigmas"));
        assertEquals(new Limits(0.0, null), t.forOutput("init_noise_sigma"));
    }

    @Test
    void noLimitMeansExact() throws Exception {
        assertEquals(Limits.EXACT, Tolerance.parse(null).forOutput("x"));
        assertEquals(Limits.EXACT, Tolerance.parse(json("{}")).forOutput("x"));
        assertEquals(Limits.EXACT, Tolerance.parse(json("{\"max_abs\": 1, \"per_output\": {\"x\": {}}}")).forOutput("x"));
    }

    @Test
    void anUnknownOrNegativeLimitIsAFormatError() {
        var e = assertThrows(GoldenFormatException.class, () -> Tolerance.parse(json("{\"abs\": 1e-4}")));
        assertEquals("tolerance: unknown limit \"abs\" (known: max_abs, rel_l2)", e.getMessage());
        assertThrows(GoldenFormatException.class, () -> Tolerance.parse(json("{\"max_abs\": -1}")));
        assertThrows(GoldenFormatException.class, () -> Tolerance.parse(json("{\"max_abs\": \"1e-4\"}")));
        assertThrows(GoldenFormatException.class, () -> Tolerance.parse(json("{\"per_output\": {\"x\": {\"per_output\": {}}}}")));
    }
}
