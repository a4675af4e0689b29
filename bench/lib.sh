# Shared by the bench scripts (sourced, not run): a temp dir on tmpfs, and
# every process started by the script ended on the way out.
#   bench_workdir NAME   sets $work to a new /dev/shm/NAME.XXXXXX and arms
#                        the trap; add the pids to end to the pids array
#   wait_for_line FILE PATTERN PID
#                        waits (bounded: 30 s) for PATTERN in FILE while PID
#                        lives

pids=()

bench_cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}

bench_workdir() {
  work=$(mktemp -d "/dev/shm/$1.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

wait_for_line() {
  for _ in $(seq 300); do
    if grep -q "$2" "$1" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$3" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  return 1
}
