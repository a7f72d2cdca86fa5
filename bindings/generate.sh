#!/usr/bin/env bash
# Regenerates the FFM bindings under src/main/java/dev/sdj/bindings/{cudart,cublas,cublaslt,cudnn,kernels}.
#
# CI never runs this: the generated sources are committed. Run it after changing native/include/sdj_kernels.h
# or a jextract/*.symbols list. It needs jextract (built from openjdk/jextract with JDK 25 and libclang 15)
# and the headers, which are jextract input only and never committed:
#   JEXTRACT        jextract launcher                      (default: jextract on PATH)
#   CUDA_INCLUDE    CUDA runtime headers (cuda_runtime_api.h) (default: $CUDA_HOME/include, /usr/local/cuda/include)
#   CUBLAS_INCLUDE  cublas_v2.h, cublasLt.h                 (e.g. Debian non-free nvidia-cuda-dev, unpacked)
#   CUDNN_INCLUDE   cuDNN 9 headers, cudnn.h                (e.g. a PyTorch venv's site-packages/nvidia/cudnn/include)
#
# For each library it (1) dumps every symbol the header reaches with --dump-includes into build/<lib>.all,
# (2) keeps the library's own constants plus the names in jextract/<lib>.symbols and writes the result to
# jextract/<lib>.includes (committed: the exact include list), (3) runs jextract with that list.
# Generated without -l: the classes load anywhere; dev.sdj.bindings.CudaLibraries loads the libraries by path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
JEXTRACT=${JEXTRACT:-jextract}
CUDA_INCLUDE=${CUDA_INCLUDE:-${CUDA_HOME:-/usr/local/cuda}/include}
: "${CUBLAS_INCLUDE:?set CUBLAS_INCLUDE to a folder with cublas_v2.h and cublasLt.h}"
: "${CUDNN_INCLUDE:?set CUDNN_INCLUDE to a folder with cuDNN 9 cudnn.h}"
out="$here/src/main/java"
work="$here/build"
mkdir -p "$work"

# generate LIB PACKAGE HEADER_CLASS HEADER CONSTANT_HEADERS_REGEX [-I dirs...]
generate() {
  local lib=$1 pkg=$2 cls=$3 header=$4 constants=$5; shift 5
  "$JEXTRACT" "$@" --dump-includes "$work/$lib.all" "$header" >/dev/null 2>"$work/$lib.dump.log" || {
    cat "$work/$lib.dump.log" >&2; exit 1; }
  local symbols="$here/jextract/$lib.symbols"
  awk -v constants="$constants" -v symbols="$symbols" '
    BEGIN { while ((getline line < symbols) > 0) { sub(/#.*/, "", line); gsub(/[ \t]/, "", line); if (line != "") want[line] = 1 } }
    /^--include-/ {
      kind = $1; name = $2; header = $NF; sub(/.*\//, "", header)
      if (kind == "--include-constant" && header ~ constants) { print kind, name; next }
      if (name in want || header == "sdj_kernels.h") print kind, name
    }' "$work/$lib.all" | sort -u > "$here/jextract/$lib.includes"
  rm -rf "$out/${pkg//.//}"
  "$JEXTRACT" "$@" --output "$out" -t "$pkg" --header-class-name "$cls" \
      @"$here/jextract/$lib.includes" "$header" 2>"$work/$lib.log" || { cat "$work/$lib.log" >&2; exit 1; }
  echo "$lib: $(grep -c '^--include-function' "$here/jextract/$lib.includes") functions," \
       "$(grep -c '^--include-constant' "$here/jextract/$lib.includes") constants -> $pkg.$cls"
}

generate cudart   dev.sdj.bindings.cudart   cudart_h   "$CUDA_INCLUDE/cuda_runtime_api.h" \
  '^(driver_types|library_types|cuda_runtime_api)\.h$' -I "$CUDA_INCLUDE"
generate cublas   dev.sdj.bindings.cublas   cublas_h   "$CUBLAS_INCLUDE/cublas_v2.h" \
  '^(cublas_api|library_types)\.h$' -I "$CUBLAS_INCLUDE" -I "$CUDA_INCLUDE"
generate cublaslt dev.sdj.bindings.cublaslt cublasLt_h "$CUBLAS_INCLUDE/cublasLt.h" \
  '^(cublasLt|cublas_api|library_types)\.h$' -I "$CUBLAS_INCLUDE" -I "$CUDA_INCLUDE"
generate cudnn    dev.sdj.bindings.cudnn    cudnn_h    "$CUDNN_INCLUDE/cudnn.h" \
  '^(cudnn.*|library_types)\.h$' -I "$CUDNN_INCLUDE" -I "$CUDA_INCLUDE"
generate sdj_kernels dev.sdj.bindings.kernels sdj_kernels_h "$here/../native/include/sdj_kernels.h" \
  '^sdj_kernels\.h$'
