package dev.sdj.pipeline;

import dev.sdj.backend.Backend;
import dev.sdj.backend.StepIndexedOps;
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
 * <p>On the GPU ({@link StepIndexedOps}) the coefficient rows and a step counter live on the device too: the
 * first step runs op by op, the second is captured as a CUDA graph, and every later step replays that graph,
 * reading its coefficients, timestep row and output slot from the counter. The same code drives the CPU backend, where the tests hold it to {@link DenoisingLoop} (which steps on host
 * arrays and records every step for the golden cases) for every scheduler. The step listener gets null latents:
 * fetching them would be the copy this loop exists to avoid.
 */
public final class DeviceDenoisingLoop {
    private final UNet2DConditionModel unet;
    private final Backend b;
    private final boolean graphs;

    /** On a backend with {@link StepIndexedOps} (CUDA), steps after the first replay one captured CUDA graph. */
    public DeviceDenoisingLoop(UNet2DConditionModel unet, Backend backend) {
        this(unet, backend, !"false".equals(System.getProperty("sdj.graphs")));
    }

    /** {@code graphs} false: every step runs op by op ({@code -Dsdj.graphs=false} sets it for the default). */
    public DeviceDenoisingLoop(UNet2DConditionModel unet, Backend backend, boolean graphs) {
        this.unet = unet;
        this.b = backend;
        this.graphs = graphs;
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

        // The basis in one buffer: noise draws and init latents first (plan order), then the model outputs in call
        // order, so that call j writes entry (fixed + j) and a step-indexed op finds it from the step alone.
        List<LinearPlan.Basis> order = new ArrayList<>();
        for (LinearPlan.Basis e : plan.basis()) if (e.kind() != LinearPlan.Kind.MODEL_OUTPUT) order.add(e);
        int fixed = order.size();
        for (LinearPlan.Basis e : plan.basis()) if (e.kind() == LinearPlan.Kind.MODEL_OUTPUT) order.add(e);
        int[] column = new int[order.size()];
        for (int k = 0; k < order.size(); k++) column[k] = plan.basis().indexOf(order.get(k));
        Tensor basisBuf = b.empty(Layout.NHWC, order.size() * batch, shape[2], shape[3], shape[1]);
        List<Tensor> basis = new ArrayList<>();
        for (int k = 0; k < order.size(); k++) {
            Tensor slot = basisBuf.narrowBatch(k * batch, batch);
            LinearPlan.Basis e = order.get(k);
            if (e.kind() == LinearPlan.Kind.NOISE) b.copy(noise.narrowBatch(e.index() * batch, batch), slot);
            if (e.kind() == LinearPlan.Kind.INIT) b.copy(init, slot);
            basis.add(slot);
        }
        Tensor outputs = basisBuf.narrowBatch(fixed * batch, plan.calls() * batch);
        float[][] rows = new float[plan.calls()][];
        for (int j = 0; j < plan.calls(); j++) rows[j] = permute(plan.modelInput(j), column);

        StepIndexedOps indexed = graphs && b instanceof StepIndexedOps ops ? ops : null;
        StepIndexedOps.StepTable table = indexed == null ? null : indexed.stepTable(rows);
        StepIndexedOps.StepGraph graph = null;
        try {
            for (int j = 0; j < plan.calls(); j++) {
                if (r.cancelled().getAsBoolean()) {
                    throw new CancellationException("cancelled before step " + (j + 1) + " of " + plan.calls());
                }
                if (indexed == null) {
                    int call = j;
                    step(() -> b.linearCombination(rows[call], basis), timeProj.narrowBatch(j * mb, mb), context, added, r,
                            batch, cfg, guided -> b.copy(guided, outputs.narrowBatch(call * batch, batch)));
                } else {
                    // Step 0 runs eagerly (cuDNN picks its algorithms, the arena settles); step 1 is captured and
                    // every step from then on replays it, the step counter telling each replay where it is.
                    Runnable body = () -> {
                        step(() -> indexed.linearCombinationAt(table, basisBuf, batch), indexed.rowsAt(table, timeProj, mb),
                                context, added, r, batch, cfg, guided -> indexed.copyToRowsAt(table, guided, outputs));
                        indexed.advance(table);
                    };
                    if (j == 0) body.run();
                    else {
                        if (graph == null) {
                            // What the step reads and writes beyond its temporaries: same key, same graph.
                            List<Object> key = List.of(java.util.Arrays.asList(shape[0], shape[1], shape[2], shape[3]), cfg,
                                    r.guidance(), plan.calls(), order.size(), unet, address(basisBuf), address(timeProj),
                                    address(context), added == null ? 0L : address(added), table);
                            graph = indexed.capture(key, body);
                        }
                        graph.launch();
                    }
                }
                if (r.listener() != null) r.listener().onStep(j, plan.calls(), plan.timestep(j), null);
            }
        } finally {
            if (graph != null) graph.close();
        }
        return b.linearCombination(permute(plan.finalLatents(), column), basis);
    }

    /** One step: the model input, CFG's batch, the U-Net, guidance, and the guided output stored. */
    private void step(java.util.function.Supplier<Tensor> input, Tensor timeProj, Tensor context, Tensor added,
                      DenoisingLoop.Request r, int batch, boolean cfg, java.util.function.Consumer<Tensor> store) {
        try (Backend.Scope step = b.scope()) {
            Tensor x = input.get();
            Tensor out = unet.forward(cfg ? stack(x, x) : x, timeProj, context, added);
            Tensor guided = cfg
                    ? b.linearCombination(new float[] {1f - r.guidance(), r.guidance()},
                            List.of(out.narrowBatch(0, batch), out.narrowBatch(batch, batch)))
                    : out;
            store.accept(guided);
        }
    }

    private static long address(Tensor t) {
        return t.data().address();
    }

    private static float[] permute(float[] coefficients, int[] column) {
        float[] out = new float[column.length];
        for (int k = 0; k < column.length; k++) out[k] = coefficients[column[k]];
        return out;
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
