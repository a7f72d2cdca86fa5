package dev.sdj.golden;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdj.core.DType;
import dev.sdj.core.Device;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.text.PromptParser;
import dev.sdj.text.PromptParser.Fragment;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The "prompt-parse" kind (tests/golden/README.md, "k. prompt-parse/"): A1111's
 * {@code parse_prompt_attention(prompt)} against {@link PromptParser#parse}. The input is the
 * literal "prompt"; the expected output is "result" (a JSON list of [text, weight]: texts must be
 * equal, weights within the case's tolerance) or "error" (the exception A1111 raised, e.g.
 * {@code ValueError: could not convert string to float: '1.2.3'}, which must be the one sdj raises,
 * as Python prints it). The references are JSON pointers, resolved here.
 */
final class PromptParseCases {
    private PromptParseCases() {}

    static final String KIND = "prompt-parse";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Runs and judges a prompt-parse case. */
    static CaseResult run(GoldenCase c, CaseFiles f, Tolerance tolerance) throws IOException {
        for (String arg : c.inputNames()) {
            if (!arg.equals("prompt")) {
                throw new GoldenFormatException("input \"" + arg + "\" is not one the " + KIND + " runner reads [prompt]; it would be ignored");
            }
        }
        JsonNode prompt = c.input("prompt");
        if (prompt == null || !prompt.isTextual()) throw new GoldenFormatException("input \"prompt\" must be a string");
        Map<String, Ref> refs = c.expectedRefs();
        for (Map.Entry<String, Ref> e : refs.entrySet()) {
            if (!e.getKey().equals("result") && !e.getKey().equals("error")) {
                throw new GoldenFormatException("kind " + KIND + " produces \"result\" or \"error\", not \"" + e.getKey() + "\"");
            }
            if (e.getValue().kind() != Ref.Kind.JSON) throw new GoldenFormatException("expected." + e.getKey() + " must be a JSON pointer");
        }

        List<Fragment> got = null;
        PromptParser.BadWeightException raised = null;
        try {
            got = PromptParser.parse(prompt.asText());
        } catch (PromptParser.BadWeightException e) {
            raised = e;
        }

        List<String> all = new ArrayList<>(), failed = new ArrayList<>();
        for (Map.Entry<String, Ref> e : refs.entrySet()) {
            JsonNode expected = f.json(e.getValue());
            String line;
            boolean passed;
            if (e.getKey().equals("result")) {
                if (raised != null) {
                    line = "result: sdj raised \"" + raised.pythonError() + "\", A1111 returns " + expected;
                    passed = false;
                } else {
                    Compare.Result r = compareResult(got, expected, tolerance.forOutput("result"));
                    line = r.text();
                    passed = r.passed();
                }
            } else {
                if (!expected.isTextual()) throw new GoldenFormatException("expected.error must point at a string, is " + expected);
                if (raised == null) {
                    line = "error: A1111 raises \"" + expected.asText() + "\", sdj returns " + show(got);
                    passed = false;
                } else {
                    passed = raised.pythonError().equals(expected.asText());
                    line = passed ? "error \"" + expected.asText() + "\" as A1111"
                            : "error \"" + raised.pythonError() + "\", A1111 raises \"" + expected.asText() + "\"";
                }
            }
            all.add(line);
            if (!passed) failed.add(line);
        }
        return failed.isEmpty() ? CaseResult.pass(c.name(), String.join("; ", all)) : CaseResult.fail(c.name(), String.join("; ", failed));
    }

    /** Same length and texts (exactly), then the weights as a vector against the limits. */
    private static Compare.Result compareResult(List<Fragment> got, JsonNode expected, Tolerance.Limits limits) {
        if (!expected.isArray()) throw new GoldenFormatException("expected.result must be a list of [text, weight], is " + expected);
        double[] want = new double[expected.size()];
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < expected.size(); i++) {
            JsonNode e = expected.get(i);
            if (!e.isArray() || e.size() != 2 || !e.get(0).isTextual() || !e.get(1).isNumber()) {
                throw new GoldenFormatException("expected.result[" + i + "] must be [text, weight], is " + e);
            }
            texts.add(e.get(0).asText());
            want[i] = e.get(1).asDouble();
        }
        if (got.size() != want.length) {
            return new Compare.Result("result", false, Double.NaN, Double.NaN, "result has " + got.size() + " fragments "
                    + show(got) + ", A1111 " + want.length + " " + expected);
        }
        for (int i = 0; i < want.length; i++) {
            if (!got.get(i).text().equals(texts.get(i))) {
                return new Compare.Result("result", false, Double.NaN, Double.NaN, "result[" + i + "] text " + quote(got.get(i).text())
                        + ", A1111 " + quote(texts.get(i)));
            }
        }
        double[] have = new double[got.size()];
        for (int i = 0; i < have.length; i++) have[i] = got.get(i).weight();
        Compare.Result w = Compare.compare("weights", vector(have), vector(want), limits);
        String text = "result " + want.length + " fragment" + (want.length == 1 ? "" : "s") + ", texts exact, " + w.text();
        return new Compare.Result("result", w.passed(), w.maxAbs(), w.relL2(), text);
    }

    private static Tensor vector(double[] v) {
        return new Tensor(MemorySegment.ofArray(v), DType.F64, Layout.PLAIN, Device.CPU, v.length);
    }

    private static String show(List<Fragment> fragments) {
        StringBuilder sb = new StringBuilder("[");
        for (Fragment fr : fragments) {
            if (sb.length() > 1) sb.append(", ");
            sb.append('[').append(quote(fr.text())).append(", ").append(fr.weight()).append(']');
        }
        return sb.append(']').toString();
    }

    /** The string as a JSON literal, so that whitespace and control characters show. */
    private static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
