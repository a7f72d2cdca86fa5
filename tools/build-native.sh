# Sourced by ./sdj and ./test.sh. sdj_build_native configures and builds native/ with CMake into
# build/native and sets SDJ_NATIVE_BUILT=true when libsdj_kernels.so was built, false when there is
# no CUDA compiler (a notice, not an error). A failing native build with nvcc present is an error.
sdj_build_native() {
  SDJ_NATIVE_BUILT=false
  if ! command -v cmake >/dev/null 2>&1; then
    echo "sdj: cmake not found: skipping the native part (libsdj_kernels.so); the CPU backend does not need it." >&2
    return 0
  fi
  local nvcc_found=false
  if command -v nvcc >/dev/null 2>&1 || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then nvcc_found=true; fi
  if [ "$nvcc_found" = false ]; then
    echo "sdj: no nvcc (CUDA toolkit) found: skipping the native part (libsdj_kernels.so); the CPU backend does not need it." >&2
    return 0
  fi
  local cmake_args=(-S . -B build/native -DCMAKE_BUILD_TYPE=Release)
  if ! command -v nvcc >/dev/null 2>&1; then cmake_args+=("-DCMAKE_CUDA_COMPILER=${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"); fi
  cmake "${cmake_args[@]}" >build-native.log 2>&1 && cmake --build build/native -j "$(nproc)" >>build-native.log 2>&1 || {
    cat build-native.log >&2
    echo "sdj: the native build failed (log above, also in build-native.log)." >&2
    return 1
  }
  rm -f build-native.log
  if [ -f build/native/libsdj_kernels.so ]; then SDJ_NATIVE_BUILT=true; fi
  return 0
}
