package dev.sdj.core;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A dense row-major tensor: shape, dtype, layout and storage. Host storage is a {@link
 * MemorySegment}: a Java array (what the CPU backend allocates) or a slice of a mapped
 * safetensors file (weights, zero copy). Storage is little-endian, as safetensors is.
 *
 * <p>A Tensor does not own its storage: the heap array is collected with it, a mapping is closed
 * by the file that made it, device memory by the backend's arena.
 */
public final class Tensor {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int[] shape;
    private final DType dtype;
    private final Layout layout;
    private final Device device;
    private final MemorySegment data;

    public Tensor(MemorySegment data, DType dtype, Layout layout, Device device, int... shape) {
        this.shape = shape.clone();
        this.dtype = dtype;
        this.layout = layout;
        this.device = device;
        this.data = data;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
        }
        long need = numel() * dtype.byteSize();
        if (device != Device.CPU) {
            // Device storage is an address only: a host read of it is an exception, never a read of device memory.
            if (data.byteSize() != 0) {
                throw new IllegalArgumentException("device tensor storage must be a zero-length address segment");
            }
        } else if (data.byteSize() != need) {
            throw new IllegalArgumentException("storage of " + data.byteSize() + " bytes does not hold "
                    + dtype + Arrays.toString(shape) + " (" + need + " bytes)");
        }
    }

    /** A host fp32 tensor over {@code values} (no copy). */
    public static Tensor of(float[] values, Layout layout, int... shape) {
        return new Tensor(MemorySegment.ofArray(values), DType.F32, layout, Device.CPU, shape);
    }

    /** A host fp32 PLAIN tensor over {@code values} (no copy). */
    public static Tensor of(float[] values, int... shape) {
        return of(values, Layout.PLAIN, shape);
    }

    /** Zero-filled host storage of the given dtype, backed by a Java array of the matching width. */
    public static Tensor zeros(DType dtype, Layout layout, int... shape) {
        long n = numel(shape);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("host tensor too large: " + Arrays.toString(shape));
        int len = (int) n;
        MemorySegment seg = switch (dtype.byteSize()) {
            case 8 -> dtype == DType.F64 ? MemorySegment.ofArray(new double[len]) : MemorySegment.ofArray(new long[len]);
            case 4 -> dtype == DType.F32 ? MemorySegment.ofArray(new float[len]) : MemorySegment.ofArray(new int[len]);
            case 2 -> MemorySegment.ofArray(new short[len]);
            default -> MemorySegment.ofArray(new byte[len]);
        };
        return new Tensor(seg, dtype, layout, Device.CPU, shape);
    }

    public static long numel(int... shape) {
        long n = 1;
        for (int d : shape) n = Math.multiplyExact(n, (long) d);
        return n;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    public int rank() {
        return shape.length;
    }

    public long numel() {
        return numel(shape);
    }

    public DType dtype() {
        return dtype;
    }

    public Layout layout() {
        return layout;
    }

    public Device device() {
        return device;
    }

    public MemorySegment data() {
        return data;
    }

    public long byteSize() {
        return numel() * dtype.byteSize();
    }

    /** The same storage seen with another shape of the same element count. */
    public Tensor reshape(Layout newLayout, int... newShape) {
        if (numel(newShape) != numel()) {
            throw new IllegalArgumentException("cannot reshape " + Arrays.toString(shape) + " to " + Arrays.toString(newShape));
        }
        return new Tensor(data, dtype, newLayout, device, newShape);
    }

    /**
     * Entries {@code start … start+count−1} along dim 0, sharing this storage (a view: writes to either are
     * seen by both). Works for host and device tensors alike.
     */
    public Tensor narrowBatch(int start, int count) {
        if (shape.length == 0 || start < 0 || count < 0 || start + count > shape[0]) {
            throw new IndexOutOfBoundsException("narrowBatch(" + start + ", " + count + ") of " + Arrays.toString(shape));
        }
        int[] s = shape.clone();
        s[0] = count;
        long per = numel() / Math.max(1, shape[0]) * dtype.byteSize(), offset = start * per;
        MemorySegment d = device == Device.CPU ? data.asSlice(offset, count * per) : MemorySegment.ofAddress(data.address() + offset);
        return new Tensor(d, dtype, layout, device, s);
    }

    public Tensor reshape(int... newShape) {
        return reshape(layout, newShape);
    }

    public Tensor withLayout(Layout newLayout) {
        return new Tensor(data, dtype, newLayout, device, shape);
    }

    private void requireHost() {
        if (device != Device.CPU) throw new IllegalStateException("tensor lives on " + device + "; download it first");
    }

    /** Element {@code i} (flat row-major index) converted to float, for any dtype. */
    public float getFloat(long i) {
        requireHost();
        long off = i * dtype.byteSize();
        return switch (dtype) {
            case F32 -> data.get(F32, off);
            case F64 -> (float) data.get(F64, off);
            case F16 -> Float.float16ToFloat(data.get(I16, off));
            case BF16 -> Float.intBitsToFloat((data.get(I16, off) & 0xffff) << 16);
            case I64 -> data.get(I64, off);
            case I32 -> data.get(I32, off);
            case I16 -> data.get(I16, off);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, off);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, off) & 0xff;
        };
    }

    /** Element {@code i} converted to double (exact for every dtype but I64 beyond 2^53). */
    public double getDouble(long i) {
        requireHost();
        return dtype == DType.F64 ? data.get(F64, i * 8) : dtype == DType.I64 ? data.get(I64, i * 8) : getFloat(i);
    }

    /** Stores {@code v} at element {@code i}, rounding to this tensor's dtype (round to nearest even). */
    public void setFloat(long i, float v) {
        requireHost();
        long off = i * dtype.byteSize();
        switch (dtype) {
            case F32 -> data.set(F32, off, v);
            case F64 -> data.set(F64, off, v);
            case F16 -> data.set(I16, off, Float.floatToFloat16(v));
            case BF16 -> data.set(I16, off, floatToBf16(v));
            case I64 -> data.set(I64, off, (long) v);
            case I32 -> data.set(I32, off, (int) v);
            case I16 -> data.set(I16, off, (short) v);
            case I8, U8 -> data.set(ValueLayout.JAVA_BYTE, off, (byte) (int) v);
            case BOOL -> data.set(ValueLayout.JAVA_BYTE, off, (byte) (v != 0 ? 1 : 0));
        }
    }

    /** All elements as a new float[] (any dtype). */
    public float[] toFloatArray() {
        requireHost();
        long n = numel();
        if (n > Integer.MAX_VALUE) throw new IllegalStateException("too many elements for a float[]: " + n);
        float[] out = new float[(int) n];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = getFloat(i);
        }
        return out;
    }

    /** A host fp32 copy (or this tensor, when it already is one). */
    public Tensor toF32() {
        if (dtype == DType.F32 && device == Device.CPU) return this;
        return of(toFloatArray(), layout, shape);
    }

    /** A host copy in {@code target} dtype, rounding to nearest even. */
    public Tensor to(DType target) {
        requireHost();
        if (target == dtype) return this;
        Tensor out = zeros(target, layout, shape);
        long n = numel();
        if (target == DType.F64 || dtype == DType.F64) {
            for (long i = 0; i < n; i++) out.setDouble(i, getDouble(i));
        } else {
            for (long i = 0; i < n; i++) out.setFloat(i, getFloat(i));
        }
        return out;
    }

    private void setDouble(long i, double v) {
        if (dtype == DType.F64) data.set(F64, i * 8, v);
        else if (dtype == DType.I64) data.set(I64, i * 8, (long) v);
        else if (dtype == DType.F16 || dtype == DType.BF16) setFloat(i, roundToOdd(v));
        else setFloat(i, (float) v);
    }

    /**
     * v as a float rounded to odd (truncate, then set the last bit when inexact). Rounding that
     * float again to fp16/bf16 then gives the correctly rounded result, which a plain (float) cast
     * followed by a second round-to-nearest does not (it can land on a tie and round the wrong way).
     */
    static float roundToOdd(double v) {
        float f = (float) v;
        if (f == v || !Float.isFinite(f) || Double.isNaN(v)) return f;
        if (Math.abs(f) > Math.abs(v)) f = Math.nextAfter(f, 0.0);
        return Float.intBitsToFloat(Float.floatToRawIntBits(f) | 1);
    }

    /** fp32 to bfloat16 bits, round to nearest even; NaN stays NaN. */
    public static short floatToBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    @Override
    public String toString() {
        return "Tensor(" + dtype + Arrays.toString(shape) + " " + layout + " on " + device + ")";
    }
}
