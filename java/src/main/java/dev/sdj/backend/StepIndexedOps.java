package dev.sdj.backend;

import dev.sdj.core.Tensor;

/**
 * Ops that take their step from device memory, so that one sampling step captured as a CUDA graph serves
 * every step of a run: the coefficient rows of the whole run and a step counter live on the device, the ops
 * read the counter, and {@link #advance} moves it on at the end of the captured step. A backend without them
 * (the CPU) runs the same loop with the step's host values instead.
 */
public interface StepIndexedOps {

    /** A run's coefficient rows (steps × basis, fp32) and its step counter, on the device. */
    interface StepTable {}

    /** A captured step: {@link #launch} replays it on the backend's stream. */
    interface StepGraph extends AutoCloseable {
        void launch();

        @Override
        void close();
    }

    /** Uploads the rows (one per step) and a step counter at 0, in the caller's scope. */
    StepTable stepTable(float[][] coefficientRows);

    /** Σ_j rows[step][j] · basis entry j, where basis is (nBasis·batch, …) and each entry is batch rows. */
    Tensor linearCombinationAt(StepTable table, Tensor basis, int batch);

    /** Rows {@code step·rowsPerStep …} of {@code table}, as a new tensor of rowsPerStep rows. */
    Tensor rowsAt(StepTable table, Tensor rows, int rowsPerStep);

    /** Writes {@code src} over rows {@code step·src.dim(0) …} of {@code rows}. */
    void copyToRowsAt(StepTable table, Tensor src, Tensor rows);

    /** step += 1, on the device, in stream order. */
    void advance(StepTable table);

    /**
     * Captures what {@code step} enqueues as a graph; nothing runs until {@link StepGraph#launch}. {@code key}
     * names everything the step reads and writes outside its own temporaries (shapes and the addresses of its
     * inputs and outputs): a backend may keep the graph under it and hand it out again when the key and its own
     * memory layout match, so that later runs of the same shape skip the capture. Null: capture afresh.
     */
    StepGraph capture(Object key, Runnable step);
}
