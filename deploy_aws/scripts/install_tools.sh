#!/usr/bin/env bash
# Offline-check tools for deploy_aws/, installed once into .lab/tools (reruns: nothing to do).
#   tflint  - built from its Go module (the Go module proxy), bundled Terraform rules
#   checkov - in its own virtual environment (it pins an older boto3 than the lab's)
# terraform itself cannot be built from the Go module proxy (its go.mod has replace directives); the checks
# use a terraform binary when one is on PATH and say so when none is.
# Measured cold on the 2-core lab machine under load: tflint 5.6 min, checkov 2.2 min, run in parallel.
set -euo pipefail
cd "$(dirname "$0")/../.."

TFLINT_VERSION=v0.61.0
CHECKOV_VERSION=3.3.30
TOOLS=.lab/tools
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
mkdir -p "$TOOLS/bin"

install_tflint() {
  if [ -x "$TOOLS/bin/tflint" ] && [[ "$("$TOOLS/bin/tflint" --version)" == *"version ${TFLINT_VERSION#v}"* ]]; then return; fi
  command -v go >/dev/null || { echo "install_tools: go is needed to build tflint (Go module proxy)" >&2; return 1; }
  echo "install_tools: building tflint $TFLINT_VERSION from the Go module proxy (once, a few minutes) ..."
  GOBIN="$PWD/$TOOLS/bin" GOFLAGS=-mod=mod go install "github.com/terraform-linters/tflint@$TFLINT_VERSION"
}

install_checkov() {
  local venv="$TOOLS/checkov-venv"
  if [ -x "$venv/bin/checkov" ] && [ -e "$venv/.installed-$CHECKOV_VERSION" ]; then return; fi
  echo "install_tools: installing checkov $CHECKOV_VERSION into $venv (once, a few minutes) ..."
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
  touch "$venv/.installed-$CHECKOV_VERSION"
}

install_tflint > "$TOOLS/tflint-install.log" 2>&1 &
tflint_pid=$!
install_checkov > "$TOOLS/checkov-install.log" 2>&1 &
checkov_pid=$!
status=0
wait "$tflint_pid" || { echo "install_tools: tflint failed:"; tail -20 "$TOOLS/tflint-install.log"; status=1; }
wait "$checkov_pid" || { echo "install_tools: checkov failed:"; tail -20 "$TOOLS/checkov-install.log"; status=1; }
[ "$status" = 0 ] && echo "install_tools: tflint $TFLINT_VERSION, checkov $CHECKOV_VERSION ready in $TOOLS"
exit "$status"
