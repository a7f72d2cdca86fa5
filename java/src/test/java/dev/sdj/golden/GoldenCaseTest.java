package dev.sdj.golden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Paths and references of one cases.json entry. */
class GoldenCaseTest {
    private static final Path DIR = Path.of("golden-dir");

    private static GoldenCase parse(String json) throws Exception {
        return GoldenCase.of(new ObjectMapper().readTree(json), DIR, "cases[0]");
    }

    @Test
    void pathsResolveAgainstTheFolder() throws Exception {
        GoldenCase c = parse("{\"name\": \"a\", \"kind\": \"unet\", \"model\": \"m\", \"file\": \"x/case.safetensors\"}");
        assertEquals(DIR.resolve("m"), c.model());
        assertEquals(DIR.resolve("x/case.safetensors"), c.file());
        assertFalse(c.isSingleFile());
    }

    @Test
    void bareExpectedReferencesPointIntoTheCaseFile() throws Exception {
        Map<String, Ref> st = parse("{\"name\": \"a\", \"file\": \"c.safetensors\", \"expected\": {\"output\": \"out\"}}").expectedRefs();
        assertEquals(new Ref(Ref.Kind.TENSOR, "out", DIR.resolve("c.safetensors")), st.get("output"));
        // In a JSON file, a bare reference is a JSON pointer.
        Map<String, Ref> js = parse("{\"name\": \"a\", \"file\": \"p.json\", \"expected\": {\"result\": \"/cases/3/result\"}}").expectedRefs();
        assertEquals(new Ref(Ref.Kind.JSON, "/cases/3/result", DIR.resolve("p.json")), js.get("result"));
    }

    @Test
    void objectReferencesMayNameAnotherFile() throws Exception {
        GoldenCase c = parse("""
                {"name": "a", "file": "c.safetensors",
                 "inputs": {"sample": {"tensor": "sample", "file": "other/in.safetensors"}, "ids": {"json": "/0/ids"},
                            "prompt": "a photo of a cat", "steps": 4}}""");
        assertEquals(new Ref(Ref.Kind.TENSOR, "sample", DIR.resolve("other/in.safetensors")), c.inputRef("sample"));
        assertEquals(new Ref(Ref.Kind.JSON, "/0/ids", DIR.resolve("c.safetensors")), c.inputRef("ids"));
        // In "inputs" a bare string is a literal, not a reference.
        var e = assertThrows(GoldenFormatException.class, () -> c.inputRef("prompt"));
        assertTrue(e.getMessage().contains("literal \"a photo of a cat\""), e.getMessage());
        assertThrows(GoldenFormatException.class, () -> c.inputRef("steps"));
        assertThrows(GoldenFormatException.class, () -> c.inputRef("absent"));
        assertEquals(java.util.List.of("sample", "ids", "prompt", "steps"), c.inputNames());
    }

    @Test
    void malformedReferencesAreFormatErrors() throws Exception {
        assertThrows(GoldenFormatException.class,
                () -> parse("{\"name\": \"a\", \"file\": \"c.safetensors\", \"expected\": {\"o\": {\"tensr\": \"o\"}}}").expectedRefs());
        assertThrows(GoldenFormatException.class,
                () -> parse("{\"name\": \"a\", \"file\": \"c.safetensors\", \"expected\": {\"o\": {\"tensor\": \"o\", \"fiel\": \"x\"}}}").expectedRefs());
        assertThrows(GoldenFormatException.class,
                () -> parse("{\"name\": \"a\", \"file\": \"c.safetensors\", \"expected\": {\"o\": {\"tensor\": \"o\", \"json\": \"/o\"}}}").expectedRefs());
        assertThrows(GoldenFormatException.class, () -> parse("{\"name\": \"a\", \"expected\": {\"o\": \"o\"}}").expectedRefs());
        assertThrows(GoldenFormatException.class, () -> parse("{\"name\": \"a\", \"file\": \"c.safetensors\", \"expected\": {}}").expectedRefs());
    }

    @Test
    void singleFileCheckpointsAreRecognised() throws Exception {
        assertTrue(parse("""
                {"name": "a", "kind": "unet", "model": "ckpt/tiny.safetensors", "component": "unet", "config": "unet/config.json"}""")
                .isSingleFile());
        assertTrue(parse("{\"name\": \"a\", \"kind\": \"vae-decode\", \"model\": \"ckpt/tiny.safetensors\"}").isSingleFile());
    }

    @Test
    void aCaseWithoutANameIsStillListed() throws Exception {
        assertEquals("cases[0]", parse("{\"kind\": \"unet\"}").name());
    }
}
