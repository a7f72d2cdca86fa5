package dev.sdj.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class TensorTest {

    /** Just above the tie between 1 and 1 + 2^-10 in fp16: a float cast first would land on the tie. */
    @Test
    void f64ToF16AndBf16RoundsOnce() {
        double aboveHalfTie = 1 + 0x1p-11 + 0x1p-30;
        double belowHalfTie = 1 + 0x1p-11 - 0x1p-30;
        Tensor src = Tensor.zeros(DType.F64, Layout.PLAIN, 4);
        src.data().set(Tensor.F64, 0, aboveHalfTie);
        src.data().set(Tensor.F64, 8, belowHalfTie);
        double bf16AboveTie = 1 + 0x1p-8 + 0x1p-40; // bf16 has 7 fraction bits: tie at 1 + 2^-8
        src.data().set(Tensor.F64, 16, bf16AboveTie);
        src.data().set(Tensor.F64, 24, -2.5);

        Tensor h = src.to(DType.F16);
        assertEquals((float) (1 + 0x1p-10), h.getFloat(0));
        assertEquals(1.0f, h.getFloat(1));
        assertEquals(-2.5f, h.getFloat(3));
        Tensor b = src.to(DType.BF16);
        assertEquals((float) (1 + 0x1p-7), b.getFloat(2));
        assertEquals(-2.5f, b.getFloat(3));
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsNaN() {
        assertEquals((short) 0x3f80, Tensor.floatToBf16(1.0f));
        assertEquals((short) 0x3f80, Tensor.floatToBf16(Float.intBitsToFloat(0x3f808000))); // tie -> even
        assertEquals((short) 0x3f82, Tensor.floatToBf16(Float.intBitsToFloat(0x3f818000))); // tie -> even (up)
        assertEquals((short) 0x3f81, Tensor.floatToBf16(Float.intBitsToFloat(0x3f808001)));
        assertEquals(true, Float.isNaN(Float.intBitsToFloat(Tensor.floatToBf16(Float.NaN) << 16)));
    }

    @Test
    void storageMustMatchShapeAndDtype() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Tensor(MemorySegment.ofArray(new float[5]), DType.F32, Layout.PLAIN, Device.CPU, 2, 3));
        assertEquals("storage of 20 bytes does not hold F32[2, 3] (24 bytes)", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[6], 2, 3).reshape(4, 2));
        assertEquals(3, Tensor.of(new float[6], 2, 3).reshape(3, 2).dim(0));
    }
}
