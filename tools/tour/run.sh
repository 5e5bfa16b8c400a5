#!/usr/bin/env bash
# Runs the README's CLI tour as printed: every line of the ```bash block under "## Tour of the CLI", in order, from
# the repository root, with only the step counts made small so the whole tour takes minutes, not hours:
#   --steps N, --max-steps N  -> 2        --minutes M -> --steps 2        --epochs E -> --epochs E --max-steps 2
# Prints one line per command (ok/FAIL, seconds) and ends with "N passed, N failed"; a failing command's log tail is
# shown. Logs: artifacts/tour/NN.log. Usage: tools/tour/run.sh [--list]   (--list: print the commands, run nothing)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
mapfile -t lines < <(awk '/^## Tour of the CLI/ { tour = 1 } tour && /^```bash/ { inside = 1; next } inside && /^```/ { exit } inside { print }' README.md)
if [[ ${#lines[@]} -eq 0 ]]; then
  echo "tools/tour/run.sh: README.md has no \`\`\`bash block under '## Tour of the CLI'" >&2
  exit 2
fi
small() {
  sed -E -e 's/--(max-)?steps [0-9]+/--\1steps 2/g' -e 's/--minutes [0-9.]+/--steps 2/g' -e 's/(--epochs [0-9.]+)/\1 --max-steps 2/g' <<<"$1"
}
logs="$root/artifacts/tour"
rm -rf "$logs"
mkdir -p "$logs"
passed=0
failed=0
n=0
for line in "${lines[@]}"; do
  [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
  n=$((n + 1))
  cmd=$(small "$line")
  if [[ "${1:-}" == "--list" ]]; then echo "$cmd"; continue; fi
  log=$(printf '%s/%02d.log' "$logs" "$n")
  start=$(date +%s%N)
  bash -c "$cmd" >"$log" 2>&1 </dev/null
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  secs="$((ms / 1000)).$(( (ms % 1000) / 100 ))"
  if [[ $rc == 0 ]]; then
    passed=$((passed + 1))
    printf 'ok    %6ss  %s\n' "$secs" "$cmd"
  else
    failed=$((failed + 1))
    printf 'FAIL  %6ss  %s  (exit %d)\n' "$secs" "$cmd" "$rc"
    tail -n 5 "$log" | sed 's/^/        /'
  fi
done
[[ "${1:-}" == "--list" ]] && exit 0
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
