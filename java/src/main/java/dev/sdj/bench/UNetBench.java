package dev.sdj.bench;

import dev.sdj.backend.Backend;
import dev.sdj.sched.Schedulers;
import dev.sdj.sched.SchedulerConfig;
import dev.sdj.rng.Rngs;
import dev.sdj.pipeline.DeviceDenoisingLoop;
import dev.sdj.pipeline.DenoisingLoop;
import dev.sdj.pipeline.Conditioning;
import dev.sdj.backend.Backends;
import dev.sdj.backend.CountingBackend;
import dev.sdj.backend.cpu.CpuBackend;
import dev.sdj.backend.cpu.Parallel;
import dev.sdj.backend.cuda.CudaBackend;
import dev.sdj.bindings.CudaLibraries;
import dev.sdj.bindings.CudaLibraries.Library;
import dev.sdj.bindings.SdjKernels;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.cuda.Cublas;
import dev.sdj.cuda.Cuda;
import dev.sdj.cuda.CudaDevice;
import dev.sdj.cuda.Cudnn;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.BuiltinConfigs;
import dev.sdj.model.RandomWeights;
import dev.sdj.model.UNet2DConditionConfig;
import dev.sdj.model.UNet2DConditionModel;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import jdk.incubator.vector.FloatVector;

/**
 * The U-Net denoising step as a sampler runs it: one forward of the classifier-free-guidance batch
 * (2 × batch: the unconditional and the conditional half) on random latents, timesteps and text
 * embeddings (SDXL: plus pooled text embeddings and size ids), repeated {@code steps} times after
 * {@code warmup} untimed forwards. The model is a built-in config with random weights, or a
 * diffusers U-Net folder. FLOPs come from {@link CountingBackend}, from the shapes of the matrix ops.
 *
 * <p>Each step runs in a {@link Backend#scope()} and ends with the download of the U-Net's output inside it, so
 * the wall-clock time of a step covers all of an asynchronous backend's work. On CUDA the device memory in use
 * (cudaMemGetInfo, the whole device) is sampled after the build and at the end of every step, before the scope closes.
 */
public final class UNetBench {

    /**
     * What to run. {@code model}: a built-in name (sd15, sd21, sdxl, sdxl-refiner) or a diffusers U-Net folder;
     * {@code dtype}: the backend's compute dtype (fp16, bf16, fp32; null: the backend's default).
     */
    public record Options(String model, int height, int width, int batch, int steps, int warmup, String backend, String dtype,
                          long seed, boolean profile, int loopSteps) {
        public Options(String model, int height, int width, int batch, int steps, int warmup, String backend, long seed,
                       boolean profile) {
            this(model, height, width, batch, steps, warmup, backend, null, seed, profile, 0);
        }

        public Options(String model, int height, int width, int batch, int steps, int warmup, String backend, String dtype,
                       long seed, boolean profile) {
            this(model, height, width, batch, steps, warmup, backend, dtype, seed, profile, 0);
        }

        public Options {
            if (height <= 0 || width <= 0 || height % 8 != 0 || width % 8 != 0) {
                throw new IllegalArgumentException("--height and --width are image pixels and must be positive multiples of 8 (the VAE's factor), got "
                        + height + "x" + width);
            }
            if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
            if (steps < 1) throw new IllegalArgumentException("--steps must be >= 1, got " + steps);
            if (warmup < 0) throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
        }

        public static Options defaults() {
            return new Options("sd15", 256, 256, 1, 3, 1, "cpu", 0, false);
        }
    }

    /** The measured figures, for callers and tests. */
    public record Result(double[] stepMillis, long flopsPerStep, double buildSeconds) {
        public double medianMillis() {
            double[] s = stepMillis.clone();
            Arrays.sort(s);
            int n = s.length;
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        }

        public double minMillis() {
            return Arrays.stream(stepMillis).min().orElse(Double.NaN);
        }

        public double maxMillis() {
            return Arrays.stream(stepMillis).max().orElse(Double.NaN);
        }
    }

    private UNetBench() {}

    /**
     * Runs the benchmark on a new backend ({@link Backends#create}: {@code o.backend()}, {@code o.dtype()}), closed at
     * the end: the report to {@code out}, a line per forward to {@code progress}.
     */
    public static Result run(Options o, PrintWriter out, PrintWriter progress) throws IOException {
        try (Backend base = Backends.create(o.backend(), o.dtype())) {
            return run(o, base, out, progress);
        }
    }

    /** The same on {@code base}, the caller's backend (made for {@code o.backend()}, {@code o.dtype()}; not closed here). */
    public static Result run(Options o, Backend base, PrintWriter out, PrintWriter progress) throws IOException {
        CountingBackend counting = new CountingBackend(base, o.profile());
        DeviceMemory deviceMemory = DeviceMemory.of(base);

        // ---- build ----
        boolean builtin = BuiltinConfigs.NAMES.contains(o.model());
        long t0 = System.nanoTime();
        UNet2DConditionModel unet;
        String weightsNote;
        long offHeapBytes;
        if (builtin) {
            progress.printf(Locale.ROOT, "building %s with random weights ...%n", o.model());
            progress.flush();
            UNet2DConditionConfig config = BuiltinConfigs.unet(o.model());
            RandomWeights w = new RandomWeights(o.seed());
            try {
                unet = new UNet2DConditionModel(config, w, counting);
            } catch (RuntimeException e) {
                w.close();
                throw e;
            }
            offHeapBytes = w.bytes();
            weightsNote = "random weights, seed " + o.seed();
        } else {
            Path dir = Path.of(o.model());
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("--model " + o.model() + " is neither a built-in model " + BuiltinConfigs.NAMES
                        + " nor a diffusers U-Net folder (config.json + diffusion_pytorch_model.safetensors)");
            }
            progress.printf(Locale.ROOT, "loading %s ...%n", dir);
            progress.flush();
            unet = UNet2DConditionModel.load(dir, counting);
            offHeapBytes = Files.size(dir.resolve("diffusion_pytorch_model.safetensors"));
            weightsNote = "weights " + dir.resolve("diffusion_pytorch_model.safetensors") + " (mapped)";
        }
        double buildSeconds = (System.nanoTime() - t0) / 1e9;
        System.gc();
        long heapAfterBuild = usedHeap();
        long deviceAfterBuild = deviceMemory.sample();

        try (unet) {
            UNet2DConditionConfig c = unet.config();
            int n = 2 * o.batch(), lh = o.height() / 8, lw = o.width() / 8;
            SplittableRandom rnd = new SplittableRandom(o.seed() + 1);
            Tensor latents = counting.upload(Tensor.of(gaussian(rnd, (long) n * lh * lw * c.inChannels()), Layout.NHWC, n, lh, lw,
                    c.inChannels()));
            int cross = c.crossAttentionDim()[0];
            Tensor ehs = counting.upload(Tensor.of(gaussian(rnd, (long) n * 77 * cross), n, 77, cross));
            AddedConditions added = null;
            if (c.additionEmbedType() != null) {
                int proj = c.projectionClassEmbeddingsInputDim(), td = c.additionTimeEmbedDim();
                // SDXL base: 6 ids, the refiner 5; the pooled text embedding is what remains (1280 for both).
                int ids = proj - 6 * td == 1280 || proj - 5 * td != 1280 ? 6 : 5;
                int pooled = proj - ids * td;
                float[] timeIds = new float[n * ids];
                for (int s = 0; s < n; s++) {
                    float[] row = ids == 6 ? new float[] {o.height(), o.width(), 0, 0, o.height(), o.width()}
                            : new float[] {o.height(), o.width(), 0, 0, 6f};
                    System.arraycopy(row, 0, timeIds, s * ids, ids);
                }
                added = new AddedConditions(counting.upload(Tensor.of(gaussian(rnd, (long) n * pooled), n, pooled)),
                        counting.upload(Tensor.of(timeIds, n, ids)));
            }

            // ---- run ----
            int total = o.warmup() + o.steps();
            double[] ms = new double[o.steps()];
            long flopsPerStep = 0;
            for (int i = 0; i < total; i++) {
                boolean warm = i < o.warmup();
                if (i == o.warmup()) counting.reset();
                long before = counting.flops();
                // The same timestep for both halves of the CFG batch, as a sampler does.
                float[] t = new float[n];
                Arrays.fill(t, (float) (999 - (i * 997L % 1000)));
                long s0 = System.nanoTime();
                // A step's temporaries live in a scope (a sampler's step does the same); reading the result back
                // inside it makes an asynchronous backend finish the step before the clock stops.
                try (Backend.Scope step = base.scope()) {
                    Tensor y = unet.forward(latents, t, ehs, added);
                    counting.download(y);
                    deviceMemory.sample();
                }
                double dt = (System.nanoTime() - s0) / 1e6;
                flopsPerStep = counting.flops() - before;
                if (!warm) ms[i - o.warmup()] = dt;
                progress.printf(Locale.ROOT, "%s %d/%d: %.1f ms (t = %.0f)%n", warm ? "warm-up" : "step", warm ? i + 1 : i - o.warmup() + 1,
                        warm ? o.warmup() : o.steps(), dt, t[0]);
                progress.flush();
            }
            Result r = new Result(ms, flopsPerStep, buildSeconds);

            // ---- report ----
            out.printf(Locale.ROOT, "model:        %s (%s)%n", o.model(), weightsNote);
            out.printf(Locale.ROOT, "backend:      %s%n", describe(base));
            out.printf(Locale.ROOT, "resolution:   %dx%d image, %dx%d latent (%d channels)%n", o.width(), o.height(), lw, lh, c.inChannels());
            out.printf(Locale.ROOT, "batch:        %d (CFG batch %d), text length 77%s%n", o.batch(), n,
                    added == null ? "" : ", SDXL added conditions (pooled text embeds, " + added.timeIds().dim(1) + " time ids)");
            out.printf(Locale.ROOT, "steps:        %d timed after %d warm-up%n", o.steps(), o.warmup());
            out.printf(Locale.ROOT, "ms/step:      median %.1f, min %.1f, max %.1f%n", r.medianMillis(), r.minMillis(), r.maxMillis());
            out.printf(Locale.ROOT, "steps/s:      %.3f (median)%n", 1000 / r.medianMillis());
            out.printf(Locale.ROOT, "GFLOP/step:   %.1f (conv, linear, matmul, attention; 2 per multiply-add)%n", flopsPerStep / 1e9);
            out.printf(Locale.ROOT, "GFLOP/s:      %.1f at the median, %.1f at the best step%n", flopsPerStep / 1e6 / r.medianMillis(),
                    flopsPerStep / 1e6 / r.minMillis());
            out.printf(Locale.ROOT, "build:        %.1f s%n", buildSeconds);
            out.printf(Locale.ROOT, "memory:       weights %s %s; heap after build %s (GC'd); peak heap %s of max %s%n",
                    gib(offHeapBytes), builtin ? "off-heap" : "mapped", gib(heapAfterBuild), gib(peakHeap()),
                    gib(Runtime.getRuntime().maxMemory()));
            if (base instanceof CpuBackend) {
                out.printf(Locale.ROOT, "              + weights packed for the GEMM (Winograd-transformed for 3x3 convs) %s native%n",
                        gib(CpuBackend.packedWeightBytes()));
            }
            if (deviceMemory.available()) {
                out.printf(Locale.ROOT, "device mem:   in use (cudaMemGetInfo, whole device) %s after build, peak %s at the end of a step, of %s%n",
                        gib(deviceAfterBuild), gib(deviceMemory.peak()), gib(deviceMemory.total()));
            }
            String usage = memoryUsage(base);
            if (usage != null) out.printf(Locale.ROOT, "              backend: %s%n", usage);
            if (o.loopSteps() > 0) loop(o, unet, base, ehs, added, out, progress);
            if (o.profile()) {
                out.println();
                out.printf(Locale.ROOT, "profile (per step, averaged over the %d timed steps; time inside backend ops %.1f ms/step):%n",
                        o.steps(), counting.nanos() / 1e6 / o.steps());
                out.print(counting.profile(25, o.steps()));
            }
            out.flush();
            return r;
        }
    }

    /**
     * A whole sampling loop of {@code o.loopSteps()} Euler a steps with CFG on {@link DeviceDenoisingLoop}, three
     * times: the first run also sizes the device arena and (on CUDA) captures the step graph; the second captures it
     * again into the backend's cache, now that the arena holds everything; the third replays the cached graph from its
     * first graph step on: what every later image of this shape costs. Latents stay on the device; the one download at
     * the end makes the clock wait for the GPU.
     */
    private static void loop(Options o, UNet2DConditionModel unet, Backend base, Tensor ehs, AddedConditions added,
                             PrintWriter out, PrintWriter progress) {
        int b = o.batch();
        Conditioning cond = added == null
                ? Conditioning.of(ehs.narrowBatch(b, b), ehs.narrowBatch(0, b))
                : new Conditioning(ehs.narrowBatch(b, b), ehs.narrowBatch(0, b),
                        new AddedConditions(added.textEmbeds().narrowBatch(b, b), added.timeIds().narrowBatch(b, b)),
                        new AddedConditions(added.textEmbeds().narrowBatch(0, b), added.timeIds().narrowBatch(0, b)));
        int[] shape = {b, unet.config().inChannels(), o.height() / 8, o.width() / 8};
        double[] ms = new double[3];
        for (int run = 0; run < ms.length; run++) {
            DenoisingLoop.Request r = DenoisingLoop.Request.txt2img(shape, cond,
                    Schedulers.byName("euler_a", SchedulerConfig.sd15()), o.loopSteps(), 7.5f, Rngs.byName("torch-cpu", o.seed()));
            long t0 = System.nanoTime();
            try (Backend.Scope s = base.scope()) {
                base.download(new DeviceDenoisingLoop(unet, base).run(r));
            }
            ms[run] = (System.nanoTime() - t0) / 1e6;
            progress.printf(Locale.ROOT, "loop %d/%d: %.1f ms%n", run + 1, ms.length, ms[run]);
            progress.flush();
        }
        boolean cuda = base instanceof dev.sdj.backend.cuda.CudaBackend;
        out.printf(Locale.ROOT, "loop:         %d Euler a steps with CFG, latents on the device%s (U-Net, guidance and sampler; no text encoder, no VAE)%n",
                o.loopSteps(), cuda && !"false".equals(System.getProperty("sdj.graphs")) ? ", steps 2.. replaying one captured CUDA graph" : "");
        out.printf(Locale.ROOT, "              first run %.1f ms (planning, arena sizing%s), second %.1f ms, then %.1f ms = %.2f ms/step%s%n",
                ms[0], cuda ? ", graph capture" : "", ms[1], ms[2], ms[2] / o.loopSteps(),
                cuda ? " (cached graph replays: " + ((dev.sdj.backend.cuda.CudaBackend) base).cachedGraphHits() + ")" : "");
    }

    /** The same on print streams (e.g. System.out for the report, System.err for progress). */
    public static Result run(Options o, PrintStream out, PrintStream progress) throws IOException {
        return run(o, new PrintWriter(out, true), new PrintWriter(progress, true));
    }

    /** One line: what the backend is (the CUDA backend's {@link CudaBackend#describe()}). */
    public static String describe(Backend b) {
        if (b instanceof CpuBackend) {
            return String.format(Locale.ROOT, "cpu, fp32, %d threads on %d cores, vector %d floats, Java %s", Parallel.threads(),
                    Runtime.getRuntime().availableProcessors(), FloatVector.SPECIES_PREFERRED.length(), System.getProperty("java.version"));
        }
        if (b instanceof CudaBackend cuda) return cuda.describe();
        return b.name();
    }

    /**
     * The backend's own account of its device memory (arena, peak scope use, weights) where it has one: a public
     * {@code memoryUsage()}, looked up by name so that this class does not depend on a CUDA backend version that
     * has it. Null otherwise.
     */
    private static String memoryUsage(Backend b) {
        try {
            Object v = b.getClass().getMethod("memoryUsage").invoke(b);
            return v == null ? null : v.toString();
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * What CUDA sdj finds here, a line each: runtime and driver versions, the devices, cuBLAS and cuDNN versions, the
     * library files loaded and libsdj_kernels.so. Every line is tried on its own, so a machine without a driver or
     * a library still gets the rest. Returns whether there is a device and every library loaded.
     */
    public static boolean printCudaInfo(PrintWriter out) {
        boolean ok = true;
        ok &= line(out, "cuda runtime", () -> version(Cuda.runtimeVersion(), 1000, 10) + " (" + file(Library.CUDART) + ")");
        ok &= line(out, "driver", () -> {
            int v = Cuda.driverVersion();
            return v == 0 ? "none (no libcuda.so.1: no NVIDIA driver on this machine)" : "supports CUDA " + version(v, 1000, 10);
        });
        ok &= line(out, "devices", () -> {
            int n = Cuda.deviceCount();
            if (n == 0) throw Cuda.noDeviceReason();
            StringBuilder sb = new StringBuilder().append(n);
            for (int i = 0; i < n; i++) {
                CudaDevice d = CudaDevice.get(i);
                sb.append(String.format(Locale.ROOT, "; %d: %s, sm_%d%d, %d SMs, %s", i, d.name(), d.major(), d.minor(),
                        d.multiProcessorCount(), gib(d.totalMemory())));
            }
            CudaDevice.MemoryInfo m = CudaDevice.memoryInfo();
            return sb.append(String.format(Locale.ROOT, "; device 0 free %s of %s", gib(m.freeBytes()), gib(m.totalBytes()))).toString();
        });
        ok &= line(out, "cuBLAS", () -> version(Cublas.version(), 10000, 100) + " (" + file(Library.CUBLAS) + "; " + file(Library.CUBLASLT) + ")");
        ok &= line(out, "cuDNN", () -> version(Cudnn.version(), 10000, 100) + " (" + file(Library.CUDNN) + ")");
        ok &= line(out, "sdj kernels", () -> {
            SdjKernels.load();
            return "ABI " + SdjKernels.ABI_VERSION + " (" + file(Library.SDJ_KERNELS) + ")";
        });
        return ok;
    }

    private static boolean line(PrintWriter out, String what, Supplier<String> value) {
        String v;
        boolean ok = true;
        try {
            v = value.get();
        } catch (RuntimeException | LinkageError e) {
            ok = false;
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            // A library that is not found lists every place looked at: the first and last lines say enough here.
            String[] lines = m.strip().split("\\R");
            v = "unavailable: " + lines[0] + (lines.length > 1 ? " ... " + lines[lines.length - 1] : "");
        }
        out.printf(Locale.ROOT, "%-13s %s%n", what + ":", v);
        out.flush();
        return ok;
    }

    private static String file(Library library) {
        return CudaLibraries.loaded(library).map(Object::toString).orElse(library.fileName() + " not loaded");
    }

    /** 13000 → "13.0", 90600 → "9.6.0". */
    private static String version(long v, int majorUnit, int minorUnit) {
        long major = v / majorUnit, minor = v % majorUnit / minorUnit, patch = v % minorUnit;
        return major + "." + minor + (majorUnit == 10000 ? "." + patch : "");
    }

    /** Device memory in use, sampled with cudaMemGetInfo; nothing on a backend without a device. */
    private static final class DeviceMemory {
        private final boolean available;
        private long peak, total;

        private DeviceMemory(boolean available) {
            this.available = available;
        }

        static DeviceMemory of(Backend b) {
            if (!(b instanceof CudaBackend)) return new DeviceMemory(false);
            try {
                return new DeviceMemory(Cuda.deviceCount() > 0);
            } catch (RuntimeException | LinkageError e) {
                return new DeviceMemory(false);
            }
        }

        boolean available() {
            return available;
        }

        /** The bytes in use now (also remembered as the peak when larger); 0 when not available. */
        long sample() {
            if (!available) return 0;
            CudaDevice.MemoryInfo m = CudaDevice.memoryInfo();
            long used = m.totalBytes() - m.freeBytes();
            peak = Math.max(peak, used);
            total = m.totalBytes();
            return used;
        }

        long peak() {
            return peak;
        }

        long total() {
            return total;
        }
    }

    private static float[] gaussian(SplittableRandom rnd, long count) {
        float[] v = new float[Math.toIntExact(count)];
        for (int i = 0; i < v.length; i++) {
            // Box–Muller: one normal value per pair of uniforms is plenty here.
            double u = 1 - rnd.nextDouble(), w = rnd.nextDouble();
            v[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w));
        }
        return v;
    }

    private static long usedHeap() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The sum of the heap pools' peak usage since the JVM started (an upper bound of the true peak). */
    private static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) sum += pool.getPeakUsage().getUsed();
        }
        return sum;
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
