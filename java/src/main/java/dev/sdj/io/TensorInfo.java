package dev.sdj.io;

import dev.sdj.core.DType;
import dev.sdj.core.Tensor;
import java.util.Arrays;

/**
 * One header entry of a safetensors file. {@code begin} and {@code end} are byte offsets relative
 * to the start of the data area (which begins right after the header), end exclusive.
 */
public record TensorInfo(String name, DType dtype, int[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    public long numel() {
        return Tensor.numel(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    // A record compares arrays by reference; two entries with equal shapes should be equal.
    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape) + Long.hashCode(begin);
    }

    @Override
    public String toString() {
        return name + ": " + dtype + Arrays.toString(shape) + " @ [" + begin + ", " + end + ")";
    }
}
