#!/usr/bin/env bash
# Tests of the C ABI from its callers, run from the repository root by scripts/test.sh:
#
#   bash istio-nomad-ffi/tests/run.sh
#
# 1. builds the library (static and shared, with the `test-hooks` feature that lets the C test
#    force a panic inside every function) into $CARGO_TARGET_DIR (default: target);
# 2. checks that the committed header include/istio_nomad.h is what cbindgen generates;
# 3. compiles tests/c/test_ffi.c and examples/c/plan_mesh.c with -Wall -Wextra -Werror and
#    AddressSanitizer + UndefinedBehaviorSanitizer (leak detection on) and runs them;
# 4. runs `go vet` and `go test ./...` and the plan-mesh command in examples/go (cgo, static
#    link; no CGO_LDFLAGS needed for the default target folder).
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TARGET=${CARGO_TARGET_DIR:-target}
case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET" ;; esac
LIBDIR="$TARGET/debug"
OUT="$TARGET/ffi-tests"
mkdir -p "$OUT"

say() { printf '\n--> %s\n' "$*"; }

say "building istio-nomad-ffi (staticlib + cdylib, feature test-hooks)"
cargo build -p istio-nomad-ffi --features test-hooks

say "checking that include/istio_nomad.h is current"
cargo test -q -p istio-nomad-ffi --test header

CFLAGS=(-std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror
        -fsanitize=address,undefined -fno-sanitize-recover=undefined
        -I "$ROOT/istio-nomad-ffi/include")
LIBS=("$LIBDIR/libistio_nomad_ffi.a" -lpthread -ldl -lm)
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

say "C: test_ffi under AddressSanitizer and UndefinedBehaviorSanitizer"
gcc "${CFLAGS[@]}" -DISTIO_NOMAD_TEST_HOOKS istio-nomad-ffi/tests/c/test_ffi.c "${LIBS[@]}" \
  -o "$OUT/test_ffi"
# The forced panics print Rust's panic message on stderr; keep it out of the way.
"$OUT/test_ffi" "$ROOT" >"$OUT/test_ffi.stdout" 2>"$OUT/test_ffi.stderr" \
  || { cat "$OUT/test_ffi.stdout" "$OUT/test_ffi.stderr" >&2; exit 1; }
cat "$OUT/test_ffi.stdout"
if grep -q "Sanitizer" "$OUT/test_ffi.stderr"; then
  cat "$OUT/test_ffi.stderr" >&2
  echo "sanitizer report in the C test" >&2
  exit 1
fi

say "C: examples/c/plan_mesh.c"
gcc "${CFLAGS[@]}" examples/c/plan_mesh.c "${LIBS[@]}" -o "$OUT/plan_mesh"
"$OUT/plan_mesh" examples/bookinfo.mesh.hcl >"$OUT/plan_mesh.out"
grep -q "^stage 1:" "$OUT/plan_mesh.out" || { cat "$OUT/plan_mesh.out"; exit 1; }
if "$OUT/plan_mesh" istio-nomad-ffi/tests/data/web-invalid.job.json >"$OUT/plan_mesh.err" 2>&1; then
  echo "plan_mesh accepted a job file as a mesh spec" >&2
  exit 1
fi

say "Go: go test ./... in examples/go (cgo, static link)"
command -v go >/dev/null || { echo "go not found: install golang-go (scripts/test.sh does)" >&2; exit 1; }
if [ -z "${HOME:-}" ]; then export HOME="$TARGET"; fi
export CGO_ENABLED=1
# The package's #cgo directive finds the library in the repository's target folder; only a
# build elsewhere (CARGO_TARGET_DIR) needs the linker pointed at it.
if [ "$TARGET" != "$ROOT/target" ]; then export CGO_LDFLAGS="-L$LIBDIR"; else unset CGO_LDFLAGS; fi
export GOFLAGS=-mod=mod
(
  cd examples/go
  go vet ./...
  go test -count=1 ./...
  go run ./cmd/plan-mesh "$ROOT/examples/bookinfo.mesh.hcl" >"$OUT/plan-mesh-go.out"
)
grep -q "^stage 1:" "$OUT/plan-mesh-go.out" || { cat "$OUT/plan-mesh-go.out"; exit 1; }

echo "Go: go test passed; plan-mesh printed $(grep -c '^stage' "$OUT/plan-mesh-go.out") stages"
tail -n 1 "$OUT/test_ffi.stdout"
