#!/usr/bin/env bash
# Installs everything the tests need (idempotently) and runs every test of istio-nomad:
# Rust (unit, golden, real etcd, real iptables in network namespaces), Python, C and Go.
#
#   sudo scripts/test.sh        # or as root; apt and ip netns need root
#
# Environment: CI=true makes tests that cannot reach their real components fail instead of
# skip. NOMAD_ADDR / CONSUL_HTTP_ADDR, when set, also run the live Nomad / Consul tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\n==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# --- system packages -------------------------------------------------------------------
APT_PKGS=(etcd-server etcd-client iptables iproute2 golang-go gcc libc6-dev python3-venv python3-pip util-linux procps)
# The go-cty oracle of the HCL function tests (istio-nomad-core/tests/cty-oracle) and the
# HashiCorp HCL checker of every rendered jobspec (istio-nomad-core/tests/hcl-check, which
# needs hcl-v2 and go-cty; apt brings their own dependencies), built in GOPATH mode from
# these packages.
APT_PKGS+=(golang-github-hashicorp-hcl-v2-dev golang-github-zclconf-go-cty-dev
  golang-github-zclconf-go-cty-yaml-dev golang-github-apparentlymart-go-cidr-dev
  golang-github-google-uuid-dev golang-github-bmatcuk-doublestar-dev
  golang-github-mitchellh-go-homedir-dev golang-golang-x-crypto-dev)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo not found: install the Rust toolchain first" >&2; exit 1; }

# --- Python tools (maturin, pytest) in a private virtualenv -----------------------------
VENV="$ROOT/target/py-venv"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating Python virtualenv $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check maturin pytest mypy

# --- Rust ------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
say "render-only build: istio-nomad-core without its default client feature"
cargo clippy -q -p istio-nomad-core --no-default-features --lib -- -D warnings
# Without `client` the core needs neither an HTTP client nor an async runtime.
if cargo tree -p istio-nomad-core --no-default-features -e normal --prefix none |
  grep -E '^(reqwest|tokio|hyper|rustls) '; then
  echo "istio-nomad-core --no-default-features depends on the crates above" >&2
  exit 1
fi
say "API docs of istio-nomad-core (broken links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc -q -p istio-nomad-core --no-deps
RUSTDOCFLAGS="-D warnings" cargo doc -q -p istio-nomad-core --no-deps --features test-util
say "module layers (no module uses a higher layer; no cycle)"
cargo test -q -p istio-nomad-core --test module_layers
say "cargo test (unit, golden, real etcd, real netfilter)"
cargo test --workspace --no-fail-fast
say "live Nomad / Consul tests (run only when NOMAD_ADDR / CONSUL_HTTP_ADDR are set)"
cargo test -q -p istio-nomad-core --test behaviour live_ -- --nocapture --test-threads=1 2>&1 | grep -oE "live [A-Za-z]+ tests not run: [A-Z_]+ not set|test result.*"

# --- Python binding --------------------------------------------------------------------
if [ -d istio-nomad-py ]; then
  say "Python binding: maturin build + pytest"
  # maturin develop installs into the virtualenv named by VIRTUAL_ENV (it does not look at the
  # interpreter it runs under).
  (cd istio-nomad-py && VIRTUAL_ENV="$VENV" "$VENV/bin/maturin" develop -q --release 2>&1 | tail -n 3)
  "$VENV/bin/python" -m pytest -q -W error istio-nomad-py/tests
fi

# --- C and Go callers of the C ABI -----------------------------------------------------
if [ -d istio-nomad-ffi ]; then
  say "C ABI: header check, C test under AddressSanitizer, go test"
  bash istio-nomad-ffi/tests/run.sh
fi

say "all tests passed"
