#!/usr/bin/env bash
# The fault-injection run: compress, finetune and train-lm are killed with SIGKILL at random moments, KILLS times each
# at least (default 20, so 60 in all), restarted with --resume where the command has it, and checked: every output is
# absent or loads, no restart loses a checkpoint, every finished chain equals an uninterrupted run (weights, metrics,
# metrics.jsonl rows) and leaves no temporaries. CI runs the same tests with 3 kills each as part of ./test.sh.
# Usage: tools/faults/run.sh [KILLS]   (tallies in artifacts/faults/*.json)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
kills="${1:-20}"
if ! [[ "$kills" =~ ^[1-9][0-9]*$ ]]; then
  echo "tools/faults/run.sh: KILLS must be a positive integer, got '$kills'" >&2
  exit 2
fi
rm -rf artifacts/faults
MLPKIT_FAULT_KILLS="$kills" ./test.sh --filter "FullyQualifiedName~MlpKit.Tests.Faults"
rc=$?
echo "== fault injection, at least $kills kills per command:"
for f in artifacts/faults/*.json; do
  [[ -f "$f" ]] && sed -n 's/.*"summary":"\([^"]*\)".*/\1/p' "$f"
done
exit $rc
