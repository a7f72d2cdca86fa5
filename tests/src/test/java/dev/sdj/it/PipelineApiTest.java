package dev.sdj.it;

import dev.sdj.StableDiffusion;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.cli.Main;
import dev.sdj.core.Tensor;
import dev.sdj.image.Images;
import dev.sdj.io.checkpoint.Checkpoint.Family;
import dev.sdj.model.AutoencoderKL;
import dev.sdj.model.UNet2DConditionModel;
import dev.sdj.model.clip.CLIPTextConfig;
import dev.sdj.model.clip.CLIPTextModel;
import dev.sdj.pipeline.Conditioning;
import dev.sdj.pipeline.GenerationRequest;
import dev.sdj.pipeline.GenerationResult;
import dev.sdj.pipeline.StableDiffusionPipeline;
import dev.sdj.pipeline.TextConditioner;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.text.ClipTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The embedding API used the way a service uses it (open once, many requests from several threads, close),
 * cancellation, the prompt syntaxes, an SDXL-topology pipeline end to end, PNG parameters and `sdj generate`,
 * all with the tiny golden models on the CPU.
 */
class PipelineApiTest {
    private static StableDiffusion sd;

    private static StableDiffusion.Options tiny() {
        Path g = Golden.root();
        return StableDiffusion.Options.defaults().withComponents(g.resolve("unet-sd15-tiny"), g.resolve("vae-tiny"),
                g.resolve("clip/text-encoder-tiny"), null, null);
    }

    @BeforeAll
    static void open() {
        sd = StableDiffusion.open(null, tiny());
    }

    @AfterAll
    static void close() {
        if (sd != null) sd.close();
    }

    private static GenerationRequest request(long seed) {
        return GenerationRequest.of("a photo of a red cat").withNegativePrompt("blurry").withSize(64, 64).withSteps(3)
                .withSeed(seed);
    }

    @Test
    void manyRequestsFromSeveralThreadsGiveWhatEachGivesAlone() throws Exception {
        assertEquals(Family.SD1, sd.family());
        GenerationResult alone = sd.generate(request(5));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<GenerationResult>> futures = new ArrayList<>();
            for (int i = 0; i < 8; i++) futures.add(pool.submit(() -> sd.generate(request(5))));
            for (Future<GenerationResult> f : futures) {
                GenerationResult r = f.get();
                assertEquals(1, r.images().size());
                assertEquals(5, r.images().get(0).seed());
                assertPixelsClose(alone.images().get(0).image(), r.images().get(0).image());
            }
        } finally {
            pool.shutdown();
        }
        GenerationResult.Image img = alone.images().get(0);
        assertEquals(64, img.image().getWidth());
        assertTrue(img.parameters().contains("Steps: 3, Sampler: Euler a, CFG scale: 7.5, Seed: 5, Size: 64x64"), img.parameters());
        assertTrue(alone.timings().keySet().containsAll(List.of("text", "denoise", "decode")), alone.timings().toString());
    }

    @Test
    void aBatchUsesConsecutiveSeedsAndEachImageCanBeReproducedAlone() {
        GenerationResult batch = sd.generate(request(11).withBatch(2));
        assertEquals(List.of(11L, 12L), batch.images().stream().map(GenerationResult.Image::seed).toList());
        assertPixelsClose(sd.generate(request(12)).images().get(0).image(), batch.images().get(1).image());
        assertNotEquals(0, diff(batch.images().get(0).image(), batch.images().get(1).image()));
    }

    @Test
    void closingReleasesTheMappedWeightsAndRefusesFurtherWork() throws Exception {
        Path maps = Path.of("/proc/self/maps");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(maps), "no /proc/self/maps on this OS");
        Path unetFile = Golden.root().resolve("unet-sd15-tiny/diffusion_pytorch_model.safetensors").toRealPath();
        long before = Files.readAllLines(maps).stream().filter(l -> l.endsWith(unetFile.toString())).count();
        for (int round = 0; round < 3; round++) {
            StableDiffusion s = StableDiffusion.open(null, tiny());
            assertTrue(Files.readAllLines(maps).stream().anyMatch(l -> l.endsWith(unetFile.toString())), "the weights are mapped");
            s.generate(request(round));
            s.close();
            s.close(); // twice is harmless
            assertThrows(IllegalStateException.class, () -> s.generate(request(0)));
        }
        long after = Files.readAllLines(maps).stream().filter(l -> l.endsWith(unetFile.toString())).count();
        assertEquals(before, after, "mappings of the U-Net file left after 3 open/close rounds");
    }

    @Test
    void cancellationStopsAtAStepBoundary() {
        AtomicInteger steps = new AtomicInteger();
        assertThrows(CancellationException.class,
                () -> sd.generate(request(1), (s, of, t, l) -> steps.incrementAndGet(), () -> steps.get() >= 1));
        assertEquals(1, steps.get());
        assertEquals(1, sd.generate(request(1)).images().size()); // the model is still usable
    }

    @Test
    void promptSyntaxes() {
        CpuBackend cpu = new CpuBackend();
        try (CLIPTextModel te = CLIPTextModel.random(tinyClip(48, false), cpu, 3)) {
            TextConditioner text = new TextConditioner(Family.SD1, ClipTokenizer.load(), te, null, cpu);
            float[] plain = text.encodeOne("a red cat", TextConditioner.Syntax.A1111, 1).context().toFloatArray();
            float[] weighted = text.encodeOne("a (red:1.5) cat", TextConditioner.Syntax.A1111, 1).context().toFloatArray();
            assertEquals(plain.length, weighted.length);
            assertNotEquals(0, maxDiff(plain, weighted), "a weight changes the conditioning");
            String lng = "word, ".repeat(60);
            assertEquals(154, text.encodeOne(lng, TextConditioner.Syntax.A1111, 1).context().dim(1), "A1111: two chunks");
            assertEquals(77, text.encodeOne(lng, TextConditioner.Syntax.DIFFUSERS, 1).context().dim(1), "diffusers: truncated");
            Conditioning c = text.encode(lng, "", TextConditioner.Syntax.A1111, 1, 64, 64);
            assertEquals(c.cond().dim(1), c.uncond().dim(1), "cond and uncond are padded to the same length");
        }
    }

    @Test
    void sdxlTopologyRunsEndToEnd() throws Exception {
        CpuBackend cpu = new CpuBackend();
        Path g = Golden.root();
        try (CLIPTextModel te1 = CLIPTextModel.random(tinyClip(32, false), cpu, 1);
             CLIPTextModel te2 = CLIPTextModel.random(tinyClip(32, true), cpu, 2);
             UNet2DConditionModel unet = UNet2DConditionModel.load(g.resolve("unet-sdxl-tiny"), cpu);
             AutoencoderKL vae = AutoencoderKL.load(g.resolve("vae-tiny"), cpu)) {
            TextConditioner text = new TextConditioner(Family.SDXL, ClipTokenizer.load(), te1, te2, cpu);
            StableDiffusionPipeline p = new StableDiffusionPipeline(Family.SDXL, text, unet, vae, cpu, cpu,
                    SchedulerConfig.sd15(), "sdxl-tiny");
            GenerationResult r = p.generate(GenerationRequest.of("a lighthouse, (storm:1.3)").withSize(64, 64).withSteps(2)
                    .withSeed(3).withSampler("dpmpp_2m_karras"), null, null);
            BufferedImage img = r.images().get(0).image();
            assertEquals(64, img.getHeight());
            assertTrue(diff(img, new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB)) > 0, "not a black image");
            assertTrue(r.images().get(0).parameters().contains("CFG scale: 5"), "SDXL's default CFG");
        }
    }

    @Test
    void pngCarriesTheParameters(@TempDir Path dir) {
        BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        img.setRGB(3, 4, 0x123456);
        Images.writePng(img, "a cat\nSteps: 20", dir.resolve("a.png"));
        assertEquals("a cat\nSteps: 20", Images.readParameters(dir.resolve("a.png")));
        assertEquals(0x123456, Images.read(dir.resolve("a.png")).getRGB(3, 4) & 0xffffff);
        Images.writePng(img, "un café à Zürich — 猫", dir.resolve("b.png"));
        assertEquals("un café à Zürich — 猫", Images.readParameters(dir.resolve("b.png")));
        assertEquals(128, Images.toUint8(0.0039f)); // round(0.50195 * 255) = 128
        assertEquals(255, Images.toUint8(7f));
        assertEquals(0, Images.toUint8(Float.NEGATIVE_INFINITY));
    }

    @Test
    void generateCommandWritesAPngAndReportsBadInputClearly(@TempDir Path dir) throws Exception {
        Path g = Golden.root();
        String[] base = {"generate", "--unet", g.resolve("unet-sd15-tiny").toString(), "--vae", g.resolve("vae-tiny").toString(),
                "--text-encoder", g.resolve("clip/text-encoder-tiny").toString(), "--prompt", "a cat", "--steps", "2",
                "--width", "64", "--height", "64", "--seed", "9"};
        Path out = dir.resolve("cat.png");
        assertEquals(0, run(concat(base, "--out", out.toString())).exit);
        assertTrue(Images.readParameters(out).contains("Seed: 9"));

        Files.writeString(dir.resolve("bad.png"), "not an image");
        Result bad = run(concat(base, "--init-image", dir.resolve("bad.png").toString(), "--out", out.toString()));
        assertEquals(1, bad.exit);
        assertTrue(bad.err.contains("bad.png") && bad.err.contains("not an image"), bad.err);

        Result fp16 = run(concat(base, "--dtype", "fp16", "--out", out.toString()));
        assertEquals(1, fp16.exit);
        assertTrue(fp16.err.contains("fp32 only"), fp16.err);

        Result img2img = run(concat(base, "--init-image", out.toString(), "--strength", "0.5", "--out",
                dir.resolve("again.png").toString()));
        assertEquals(0, img2img.exit, img2img.err);
        assertTrue(Images.readParameters(dir.resolve("again.png")).contains("Denoising strength: 0.5"));
    }

    private record Result(int exit, String err) {}

    private static Result run(String... args) {
        StringWriter err = new StringWriter();
        var cl = Main.commandLine();
        cl.setErr(new PrintWriter(err));
        cl.setOut(new PrintWriter(new StringWriter()));
        int exit = cl.execute(args);
        return new Result(exit, err.toString());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private static CLIPTextConfig tinyClip(int hidden, boolean projection) {
        return new CLIPTextConfig(49408, hidden, hidden * 4, 2, 4, 77, "gelu", 1e-5f, 32, 2, projection);
    }

    /** The CPU backend's sums differ between runs in the last bits: pixels may differ by 1. */
    private static void assertPixelsClose(BufferedImage a, BufferedImage b) {
        assertTrue(diff(a, b) <= 1, "pixels differ by " + diff(a, b));
    }

    private static int diff(BufferedImage a, BufferedImage b) {
        int max = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y), q = b.getRGB(x, y);
                for (int s = 0; s < 24; s += 8) max = Math.max(max, Math.abs(((p >> s) & 0xff) - ((q >> s) & 0xff)));
            }
        }
        return max;
    }

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }
}
