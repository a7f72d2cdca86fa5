package dev.sdj.bindings;

import dev.sdj.bindings.CudaLibraries.Library;
import dev.sdj.bindings.CudaLibraries.Search;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where the loader looks, in which order, and what it says when a library is nowhere. No library is loaded. */
class CudaLibrariesTest {
    @TempDir
    Path tmp;

    private final Map<String, String> props = new HashMap<>();
    private final Map<String, String> env = new HashMap<>();

    private Search search() {
        return new Search(props::get, env::get, tmp.resolve("home"), tmp.resolve("work"),
                tmp.resolve("usr/local/cuda"), List.of(tmp.resolve("opt/torch/.venv")), List.of(tmp.resolve("usr/lib")));
    }

    private Path touch(String relative) throws IOException {
        Path p = tmp.resolve(relative);
        Files.createDirectories(p.getParent());
        Files.writeString(p, "not really a library");
        return p;
    }

    @Test
    void firstHitWinsInDocumentedOrder() throws IOException {
        Path system = touch("usr/lib/libcublas.so.13");
        assertEquals(system, CudaLibraries.locate(Library.CUBLAS, search()));

        Path venv = touch("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        assertEquals(venv, CudaLibraries.locate(Library.CUBLAS, search()));

        Path toolkit = touch("cuda/lib64/libcublas.so.13");
        env.put("CUDA_HOME", tmp.resolve("cuda").toString());
        assertEquals(toolkit, CudaLibraries.locate(Library.CUBLAS, search()));

        Path ld = touch("ld/libcublas.so.13");
        env.put("LD_LIBRARY_PATH", "/nonexistent:" + tmp.resolve("ld"));
        assertEquals(ld, CudaLibraries.locate(Library.CUBLAS, search()));

        Path folder = touch("folder/libcublas.so.13");
        env.put("SDJ_CUDA_LIBDIR", tmp.resolve("folder").toString());
        assertEquals(folder, CudaLibraries.locate(Library.CUBLAS, search()));

        Path byEnv = touch("env/libcublas.so.13");
        env.put("SDJ_CUBLAS", byEnv.toString());
        assertEquals(byEnv, CudaLibraries.locate(Library.CUBLAS, search()));

        Path byProperty = touch("prop/libcublas.so.13");
        props.put("sdj.cublas", byProperty.toString());
        assertEquals(byProperty, CudaLibraries.locate(Library.CUBLAS, search()));
    }

    @Test
    void findsPyTorchWheelLayoutsInVirtualEnvAndCondaAndUserSite() throws IOException {
        Path cudnn = touch("venv/lib/python3.11/site-packages/nvidia/cudnn/lib/libcudnn.so.9");
        env.put("VIRTUAL_ENV", tmp.resolve("venv").toString());
        assertEquals(cudnn, CudaLibraries.locate(Library.CUDNN, search()));

        Path cudart = touch("home/.local/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.13");
        assertEquals(cudart, CudaLibraries.locate(Library.CUDART, search()));

        Path lt = touch("conda/lib/python3.10/site-packages/nvidia/cublas/lib/libcublasLt.so.13");
        env.put("CONDA_PREFIX", tmp.resolve("conda").toString());
        assertEquals(lt, CudaLibraries.locate(Library.CUBLASLT, search()));
    }

    @Test
    void kernelsAreLookedForBesideTheBuildNotInPythonEnvironments() throws IOException {
        touch("opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib/libsdj_kernels.so");
        Path build = touch("work/build/native/libsdj_kernels.so");
        assertEquals(build, CudaLibraries.locate(Library.SDJ_KERNELS, search()));
        Path nativeDir = touch("native/libsdj_kernels.so");
        props.put("sdj.native.dir", tmp.resolve("native").toString());
        assertEquals(nativeDir, CudaLibraries.locate(Library.SDJ_KERNELS, search()));
    }

    @Test
    void missingLibraryListsEveryPlaceAndHowToPointAtIt() {
        props.put("sdj.cudnn", "/nonexistent/libcudnn.so.9");
        env.put("CUDA_HOME", "/opt/cuda-x");
        env.put("LD_LIBRARY_PATH", "/ld-a:/ld-b");
        NativeLibraryNotFoundException e = assertThrows(NativeLibraryNotFoundException.class,
                () -> CudaLibraries.locate(Library.CUDNN, search()));
        String m = e.getMessage();
        assertEquals("libcudnn.so.9", e.library());
        assertEquals(search().candidates(Library.CUDNN), e.searched());
        for (String expected : List.of("/nonexistent/libcudnn.so.9", "/ld-a/libcudnn.so.9", "/ld-b/libcudnn.so.9",
                "/opt/cuda-x/lib64/libcudnn.so.9", tmp.resolve("usr/local/cuda/lib64/libcudnn.so.9").toString(),
                tmp.resolve("usr/lib/libcudnn.so.9").toString(), "-Dsdj.cudnn=", "SDJ_CUDNN=", "SDJ_CUDA_LIBDIR")) {
            assertTrue(m.contains(expected), () -> "message lacks " + expected + ":\n" + m);
        }
    }

    @Test
    void aFileThatIsNoLibraryGivesAnErrorNamingTheFile() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(CudaLibraries.loaded(Library.CUDNN).isEmpty(), "cuDNN is already loaded in this JVM");
        Path fake = touch("fake/libcudnn.so.9");
        System.setProperty("sdj.cudnn", fake.toString());
        try {
            UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> CudaLibraries.load(Library.CUDNN));
            assertTrue(e.getMessage().contains(fake.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("-Dsdj.cudnn="), e.getMessage());
            assertTrue(CudaLibraries.loaded(Library.CUDNN).isEmpty(), "a failed load must not count as loaded");
        } finally {
            System.clearProperty("sdj.cudnn");
        }
    }
}
