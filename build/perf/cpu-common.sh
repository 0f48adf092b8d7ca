# Sourced by host-cost.sh, read-cost.sh and merge-guards-cost.sh: CPU clock ticks (utime+stime) from /proc.
# proc_cpu PID: one process's own time.
proc_cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# pg_cpu: the postmaster ($PG_PID)'s own time, its reaped children's (cutime+cstime) and every live backend's.
pg_cpu() {
  local t; t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$PG_PID/stat")
  for c in $(cat /proc/"$PG_PID"/task/*/children 2>/dev/null); do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}
