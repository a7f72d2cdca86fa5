package dev.sdj.pipeline;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.NoisePredictor;
import dev.sdj.sched.NoiseSource;
import dev.sdj.sched.Scheduler;
import java.util.concurrent.CancellationException;
import java.util.function.BooleanSupplier;

/**
 * The sampling loop of diffusers' StableDiffusion(XL)Pipeline, for every scheduler: scale the
 * input, run the U-Net on [uncond, cond] as one batch, combine with the guidance scale, step.
 * txt2img starts from noise × init_noise_sigma; img2img from the init latents noised to the
 * first timestep it runs (the last {@code strength} of the schedule).
 *
 * <p>Latents are NCHW float arrays between steps (the schedulers' and the goldens' layout) and
 * NHWC tensors inside the U-Net.
 */
public final class DenoisingLoop {
    private final NoisePredictor unet;
    private final Backend b;

    /** unet: the U-Net (or, in tests, any stand-in with its signature). */
    public DenoisingLoop(NoisePredictor unet, Backend backend) {
        this.unet = unet;
        this.b = backend;
    }

    /** Everything one sampling run needs. shape: the latents' NCHW shape (B, 4, H/8, W/8). */
    public record Request(int[] shape, Conditioning conditioning, Scheduler scheduler, int steps, float guidance,
                          float[] initLatents, float strength, NoiseSource noise, StepListener listener,
                          BooleanSupplier cancelled, StepTrace trace) {

        public static Request txt2img(int[] shape, Conditioning c, Scheduler s, int steps, float guidance, NoiseSource noise) {
            return new Request(shape, c, s, steps, guidance, null, 1f, noise, null, () -> false, null);
        }

        public Request withListener(StepListener l) {
            return new Request(shape, conditioning, scheduler, steps, guidance, initLatents, strength, noise, l, cancelled, trace);
        }

        public Request withCancel(BooleanSupplier c) {
            return new Request(shape, conditioning, scheduler, steps, guidance, initLatents, strength, noise, listener, c, trace);
        }

        public Request withTrace(StepTrace t) {
            return new Request(shape, conditioning, scheduler, steps, guidance, initLatents, strength, noise, listener, cancelled, t);
        }

        /** img2img: start from {@code init} latents (NCHW, already scaled by the VAE's factor), run the last {@code s} of the schedule. */
        public Request img2img(float[] init, float s) {
            return new Request(shape, conditioning, scheduler, steps, guidance, init, s, noise, listener, cancelled, trace);
        }
    }

    /** The first timestep index an img2img run of {@code strength} takes, as diffusers' get_timesteps. */
    public static int startIndex(int steps, float strength, int order) {
        if (strength <= 0 || strength > 1) throw new IllegalArgumentException("strength must be in (0, 1], is " + strength);
        int initTimestep = Math.min((int) (steps * strength), steps);
        int tStart = Math.max(steps - initTimestep, 0);
        return tStart * order;
    }

    /** Runs the loop and returns the final latents (NCHW). Throws CancellationException at a step boundary when cancelled. */
    public float[] run(Request r) {
        Scheduler s = r.scheduler();
        s.setTimesteps(r.steps());
        float[] timesteps = s.timesteps();
        int first = r.initLatents() == null ? 0 : startIndex(r.steps(), r.strength(), s.order());
        if (first >= timesteps.length) {
            throw new IllegalArgumentException("strength " + r.strength() + " with " + r.steps() + " steps runs no step");
        }

        float[] latents;
        if (r.initLatents() == null) {
            latents = r.noise().randn(r.shape());
            float sigma = s.initNoiseSigma();
            for (int i = 0; i < latents.length; i++) latents[i] *= sigma;
        } else {
            latents = s.addNoise(r.initLatents(), r.noise().randn(r.shape()), first);
        }

        // Everything uploaded for this run lives in this scope; each step's temporaries in a nested one.
        try (Backend.Scope run = b.scope()) {
            return denoise(r, s, timesteps, first, latents);
        }
    }

    private float[] denoise(Request r, Scheduler s, float[] timesteps, int first, float[] latents) {
        boolean cfg = r.guidance() > 1f;
        Conditioning c = r.conditioning();
        Tensor context = cfg ? batch(c.uncond(), c.cond()) : c.cond();
        AddedConditions added = c.addedCond() == null ? null : cfg
                ? new AddedConditions(batch(c.addedUncond().textEmbeds(), c.addedCond().textEmbeds()),
                        batch(c.addedUncond().timeIds(), c.addedCond().timeIds()))
                : c.addedCond();

        int taken = timesteps.length - first;
        for (int i = first; i < timesteps.length; i++) {
            if (r.cancelled().getAsBoolean()) throw new CancellationException("cancelled before step " + (i - first + 1) + " of " + taken);
            float[] input = s.scaleModelInput(latents, i);
            float[] out;
            try (Backend.Scope step = b.scope()) {
                out = fromNhwc(unet.forward(modelBatch(input, r.shape(), cfg), new float[] {timesteps[i]}, context, added));
            }
            float[] uncond = cfg ? java.util.Arrays.copyOfRange(out, 0, latents.length) : null;
            float[] text = cfg ? java.util.Arrays.copyOfRange(out, latents.length, out.length) : out;
            float[] guided = cfg ? guide(uncond, text, r.guidance()) : text;
            latents = s.step(guided, i, latents, r.shape(), r.noise()).prevSample();
            if (r.trace() != null) r.trace().onStep(i - first, timesteps[i], input, uncond, text, guided, latents);
            if (r.listener() != null) r.listener().onStep(i - first, taken, timesteps[i], latents);
        }
        return latents;
    }

    /** The U-Net's input: the latents, twice (for [uncond, cond]) with CFG. */
    private Tensor modelBatch(float[] input, int[] shape, boolean cfg) {
        Tensor x = toNhwc(input, shape);
        return cfg ? batch(x, x) : x;
    }

    /** Classifier-free guidance: uncond + g·(cond − uncond), in float as diffusers computes it. */
    static float[] guide(float[] uncond, float[] cond, float g) {
        float[] guided = new float[uncond.length];
        for (int i = 0; i < guided.length; i++) guided[i] = uncond[i] + g * (cond[i] - uncond[i]);
        return guided;
    }

    /** Two backend tensors stacked along the batch dim (first rows a, then b). */
    private Tensor batch(Tensor a, Tensor bb) {
        float[] x = b.download(a).toFloatArray(), y = b.download(bb).toFloatArray();
        float[] out = new float[x.length + y.length];
        System.arraycopy(x, 0, out, 0, x.length);
        System.arraycopy(y, 0, out, x.length, y.length);
        int[] shape = a.shape();
        shape[0] += bb.dim(0);
        return b.upload(Tensor.of(out, a.layout(), shape));
    }

    private Tensor toNhwc(float[] nchw, int[] shape) {
        return b.nchwToNhwc(b.upload(Tensor.of(nchw, Layout.NCHW, shape)));
    }

    private float[] fromNhwc(Tensor nhwc) {
        return b.download(b.nhwcToNchw(nhwc)).toFloatArray();
    }
}
