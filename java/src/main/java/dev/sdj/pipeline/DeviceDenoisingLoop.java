package dev.sdj.pipeline;

import dev.sdj.backend.Backend;
import dev.sdj.core.Layout;
import dev.sdj.core.Tensor;
import dev.sdj.model.AddedConditions;
import dev.sdj.model.UNet2DConditionModel;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * The sampling loop with the latents resident on the backend: the run is planned on the host first
 * ({@link LinearPlan}), every noise draw comes from the seed's generator up front in one upload, the timestep
 * projections are computed once, CFG's two halves run as one batch, and guidance and every scheduler update are
 * backend ops ({@link Backend#linearCombination}). Nothing returns to the host until the caller downloads or
 * decodes the result: the copies of a run are the noise, the init latents (img2img) and the timesteps in.
 *
 * <p>The same code drives the CPU backend, where the tests hold it to {@link DenoisingLoop} (which steps on host
 * arrays and records every step for the golden cases) for every scheduler. The step listener gets null latents:
 * fetching them would be the copy this loop exists to avoid.
 */
public final class DeviceDenoisingLoop {
    private final UNet2DConditionModel unet;
    private final Backend b;

    public DeviceDenoisingLoop(UNet2DConditionModel unet, Backend backend) {
        this.unet = unet;
        this.b = backend;
    }

    /**
     * Runs the request and returns the final latents, NHWC (B, h, w, C), on the backend, in the caller's scope
     * (open one around this call and whatever consumes the result). Throws CancellationException between steps.
     */
    public Tensor run(DenoisingLoop.Request r) {
        int[] shape = r.shape(); // NCHW
        int batch = shape[0];
        LinearPlan plan = LinearPlan.of(r.scheduler(), r.steps(), shape, r.initLatents() != null, r.strength());
        boolean cfg = r.guidance() > 1f;
        int mb = cfg ? 2 * batch : batch;

        // Inputs in: every noise draw (one copy), the init latents, the timesteps (inside timeProjection).
        int per = Math.toIntExact(Tensor.numel(shape));
        float[] draws = new float[plan.noiseDraws() * per];
        for (int k = 0; k < plan.noiseDraws(); k++) System.arraycopy(r.noise().randn(shape), 0, draws, k * per, per);
        Tensor noise = plan.noiseDraws() == 0 ? null
                : b.nchwToNhwc(b.upload(Tensor.of(draws, Layout.NCHW, plan.noiseDraws() * batch, shape[1], shape[2], shape[3])));
        Tensor init = r.initLatents() == null ? null : b.nchwToNhwc(b.upload(Tensor.of(r.initLatents(), Layout.NCHW, shape)));
        float[] t = new float[plan.calls() * mb];
        for (int j = 0; j < plan.calls(); j++) java.util.Arrays.fill(t, j * mb, (j + 1) * mb, plan.timestep(j));
        Tensor timeProj = unet.timeProjection(t);

        Conditioning c = r.conditioning();
        Tensor context = cfg ? stack(c.uncond(), c.cond()) : c.cond();
        Tensor added = c.addedCond() == null ? null : unet.addedEmbedding(cfg
                ? new AddedConditions(stack(c.addedUncond().textEmbeds(), c.addedCond().textEmbeds()),
                        stack(c.addedUncond().timeIds(), c.addedCond().timeIds()))
                : c.addedCond(), mb);

        Tensor outputs = b.empty(Layout.NHWC, plan.calls() * batch, shape[2], shape[3], shape[1]);
        List<Tensor> basis = new ArrayList<>();
        for (LinearPlan.Basis e : plan.basis()) {
            basis.add(switch (e.kind()) {
                case NOISE -> noise.narrowBatch(e.index() * batch, batch);
                case INIT -> init;
                case MODEL_OUTPUT -> outputs.narrowBatch(e.index() * batch, batch);
            });
        }

        for (int j = 0; j < plan.calls(); j++) {
            if (r.cancelled().getAsBoolean()) {
                throw new CancellationException("cancelled before step " + (j + 1) + " of " + plan.calls());
            }
            try (Backend.Scope step = b.scope()) {
                Tensor x = b.linearCombination(plan.modelInput(j), basis);
                Tensor out = unet.forward(cfg ? stack(x, x) : x, timeProj.narrowBatch(j * mb, mb), context, added);
                Tensor guided = cfg
                        ? b.linearCombination(new float[] {1f - r.guidance(), r.guidance()},
                                List.of(out.narrowBatch(0, batch), out.narrowBatch(batch, batch)))
                        : out;
                b.copy(guided, outputs.narrowBatch(j * batch, batch));
            }
            if (r.listener() != null) r.listener().onStep(j, plan.calls(), plan.timestep(j), null);
        }
        return b.linearCombination(plan.finalLatents(), basis);
    }

    /** a and b stacked along the batch dim, on the backend. */
    private Tensor stack(Tensor a, Tensor bb) {
        int[] s = a.shape();
        s[0] += bb.dim(0);
        Tensor out = b.empty(a.layout(), s);
        b.copy(a, out.narrowBatch(0, a.dim(0)));
        b.copy(bb, out.narrowBatch(a.dim(0), bb.dim(0)));
        return out;
    }
}
