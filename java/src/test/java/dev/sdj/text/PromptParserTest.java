package dev.sdj.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.golden.CaseResult;
import dev.sdj.golden.GoldenRunner;
import dev.sdj.text.PromptParser.BadWeightException;
import dev.sdj.text.PromptParser.Fragment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Edge cases beyond the golden ones (tests/golden/prompt-parse). Every expected value here was
 * checked against A1111's parse_prompt_attention run in Python; weights are compared bit for bit.
 */
class PromptParserTest {

    private static final double UP = 1.1, DOWN = 1 / 1.1;

    /** Alternating text, weight pairs. */
    private static void check(String prompt, Object... expected) {
        List<Fragment> want = new ArrayList<>();
        for (int i = 0; i < expected.length; i += 2) {
            want.add(new Fragment((String) expected[i], ((Number) expected[i + 1]).doubleValue()));
        }
        List<Fragment> got = PromptParser.parse(prompt);
        assertEquals(want.size(), got.size(), () -> prompt + " → " + got);
        for (int i = 0; i < want.size(); i++) {
            assertEquals(want.get(i).text(), got.get(i).text(), prompt + " → " + got);
            // bit for bit: the same doubles Python multiplies (-0.0 is not 0.0 here)
            assertEquals(Double.doubleToLongBits(want.get(i).weight()), Double.doubleToLongBits(got.get(i).weight()),
                    () -> prompt + " → " + got);
        }
    }

    @Test
    void plainTextAndEmptyPrompts() {
        check("a photo of a cat", "a photo of a cat", 1.0);
        check("", "", 1.0);
        check("()", "", 1.0);
        check("[]", "", 1.0);
        check("  ", "  ", 1.0);
    }

    @Test
    void escapesAreLiteralAndALoneBackslashIsDropped() {
        check("\\(a\\)", "(a)", 1.0);
        check("a\\\\b", "a\\b", 1.0);
        check("a\\b", "ab", 1.0);
        check("(a\\)b)", "a)b", UP);
        check("\\[a\\] \\\\(b)", "[a] \\", 1.0, "b", UP);
    }

    @Test
    void nestingMultipliesInClosingOrder() {
        check("((a:1.5))", "a", 1.5 * UP); // 1.6500000000000001
        check("[(a)]", "a", UP * DOWN); // exactly 1.0
        check("[[a]:1.2)", "a", DOWN * DOWN, ":1.2)", DOWN);
        check("(nested (inner:1.5) outer:0.8)", "nested ", 0.8, "inner", 1.5 * 0.8, " outer", 0.8);
    }

    @Test
    void unbalancedBrackets() {
        check("a) (b", "a) ", 1.0, "b", UP);
        check("[a (b", "a ", DOWN, "b", UP * DOWN); // open round brackets first, then square ones
        check("((a)", "a", UP * UP);
        check("(a]", "a]", UP);
        check("[a)", "a)", DOWN);
        check("(a:2", "a:2", UP);
        check("a:1.5)", "a:1.5)", 1.0); // a weight with no open round bracket is text
    }

    @Test
    void weightsWithSpacesSignsAndOddNumbers() {
        check("(a:  2 )", "a", 2.0);
        check("(a :\t2\n)", "a ", 2.0);
        check("(a:1.5 ) b", "a", 1.5, " b", 1.0);
        check("(a:1.)", "a", 1.0);
        check("(a:1e2)", "a:1e2", UP);
        check("(a:+-1)", "a:+-1", UP);
        check("x (a:1)", "x a", 1.0);
    }

    @Test
    void negativeAndZeroWeights() {
        check("(a:-0.5)", "a", -0.5);
        check("(a:-.5) (b:+2.)", "a", -0.5, " ", 1.0, "b", 2.0);
        check("(a:0)", "a", 0.0);
        // -0.0 == 0.0 in Python, so the two merge, keeping the first weight
        check("(a:-0)(b:0)", "ab", -0.0);
    }

    @Test
    void pythonCharacterClasses() {
        check("(a:١.٥)", "a", 1.5); // \d is any decimal digit and float() reads it
        check("(a:\u001f2\u001f)", "a", 2.0); // U+001F is whitespace to Python's \s
        check("(a:\u200b2)", "a:\u200b2", UP); // a zero-width space is not
    }

    @Test
    void breakSplitsPlainText() {
        check("BREAK a", "", 1.0, "BREAK", -1, "a", 1.0);
        check("a BREAK", "a", 1.0, "BREAK", -1, "", 1.0);
        check("BREAK", "", 1.0, "BREAK", -1, "", 1.0);
        check("a BREAK BREAK b", "a", 1.0, "BREAK", -1, "", 1.0, "BREAK", -1, "b", 1.0);
        check("BREAKBREAK", "BREAKBREAK", 1.0);
        check("a break b", "a break b", 1.0);
        check("(a:-1) BREAK", "a", -1.0, "", 1.0, "BREAK", -1, "", 1.0);
        // \b: a letter outside the BMP is a word character, an emoji is not
        check("\uD835\uDC00BREAK", "\uD835\uDC00BREAK", 1.0);
        check("\uD83D\uDC31BREAK", "\uD83D\uDC31", 1.0, "BREAK", -1, "", 1.0);
    }

    @Test
    void breakInsideBracketsIsMultipliedLikeText() {
        List<Fragment> r = PromptParser.parse("(a BREAK b)");
        check("(a BREAK b)", "a", UP, "BREAK", -1 * UP, "b", UP);
        assertFalse(r.get(1).isBreak());
        check("(a BREAK b:1)", "a", 1.0, "BREAK", -1.0, "b", 1.0);
        assertTrue(PromptParser.parse("(a BREAK b:1)").get(1).isBreak());
        check("(BREAK:-1)", "", -1.0, "BREAK", 1.0, "", -1.0);
    }

    @Test
    void runsOfEqualWeightMerge() {
        check("(a:1.1)(b)", "ab", UP);
        check("(a)(b)", "ab", UP);
    }

    @Test
    void aWeightThatIsNoNumberRaisesAsA1111() {
        BadWeightException e = assertThrows(BadWeightException.class, () -> PromptParser.parse("(a:1.2.3)"));
        assertEquals("ValueError: could not convert string to float: '1.2.3'", e.pythonError());
        assertEquals("1.2.3", e.weight());
        e = assertThrows(BadWeightException.class, () -> PromptParser.parse("(a:.)"));
        assertEquals("could not convert string to float: '.'", e.getMessage());
        check("a:1.2.3)", "a:1.2.3)", 1.0); // never converted without an open bracket
    }

    @Test
    void theClassJavadocExample() {
        check("a (house:1.3) [on] ((hill)) BREAK sky", "a ", 1.0, "house", 1.3, " ", 1.0, "on", DOWN, " ", 1.0,
                "hill", UP * UP, "", 1.0, "BREAK", -1, "sky", 1.0);
    }

    /** The golden kind "prompt-parse" says clearly what differs (the real cases run in GoldenCasesTest). */
    @Test
    void goldenKindReportsEachKindOfMismatch(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("p.json"), """
                {"cases": [{"result": [["a", 1.1]]}, {"result": [["a", 1.2]]}, {"result": [["b", 1.1]]},
                           {"result": [["a", 1.1], ["b", 1.0]]}, {"error": "ValueError: could not convert string to float: '1.2.3'"}]}""");
        Files.writeString(dir.resolve("cases.json"), """
                {"version": 1, "cases": [
                 {"name": "ok", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"}, "expected": {"result": "/cases/0/result"},
                  "tolerance": {"max_abs": 1e-6}},
                 {"name": "weight", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"}, "expected": {"result": "/cases/1/result"},
                  "tolerance": {"max_abs": 1e-6}},
                 {"name": "text", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"}, "expected": {"result": "/cases/2/result"}},
                 {"name": "count", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"}, "expected": {"result": "/cases/3/result"}},
                 {"name": "error", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a:1.2.3)"}, "expected": {"error": "/cases/4/error"}},
                 {"name": "no-error", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"}, "expected": {"error": "/cases/4/error"}},
                 {"name": "raised", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a:1.2.3)"}, "expected": {"result": "/cases/0/result"}},
                 {"name": "stray", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)", "emphasis": "None"},
                  "expected": {"result": "/cases/0/result"}},
                 {"name": "missing", "kind": "prompt-parse", "file": "p.json", "inputs": {"prompt": "(a)"}, "expected": {"result": "/cases/9/result"}}]}""");
        try (CpuBackend cpu = new CpuBackend(); GoldenRunner runner = GoldenRunner.open(dir, cpu)) {
            List<CaseResult> r = runner.runAll(c -> true, x -> { });
            assertResult(r.get(0), CaseResult.Status.PASS, "result 1 fragment, texts exact, weights max_abs 0 (limit 1e-06)");
            assertResult(r.get(1), CaseResult.Status.FAIL, "weights max_abs 1e-01 (limit 1e-06)");
            assertResult(r.get(2), CaseResult.Status.FAIL, "result[0] text \"a\", A1111 \"b\"");
            assertResult(r.get(3), CaseResult.Status.FAIL, "result has 1 fragments [[\"a\", 1.1]], A1111 2");
            assertResult(r.get(4), CaseResult.Status.PASS, "error \"ValueError: could not convert string to float: '1.2.3'\" as A1111");
            assertResult(r.get(5), CaseResult.Status.FAIL, "sdj returns [[\"a\", 1.1]]");
            assertResult(r.get(6), CaseResult.Status.FAIL, "sdj raised \"ValueError: could not convert string to float: '1.2.3'\"");
            assertResult(r.get(7), CaseResult.Status.FAIL, "input \"emphasis\" is not one the prompt-parse runner reads");
            assertResult(r.get(8), CaseResult.Status.FAIL, "nothing at JSON pointer /cases/9/result");
        }
    }

    private static void assertResult(CaseResult r, CaseResult.Status status, String detailPart) {
        assertEquals(status, r.status(), r.line());
        assertTrue(r.detail().contains(detailPart), r.line());
    }
}
