# shellcheck shell=bash
# The remap storm of torture.sh, sourced by it: random control writes
# against a mount while the writers run, each logged (torture_model.py has
# the format) so the verifier knows which were acknowledged.
#
# Uses MNT, STORM_LOG, STOP_FILE, MAIN_SECTORS and REGIONS ("FIRST:COUNT"
# per writer) from torture.sh.

# now_ns: CLOCK_REALTIME in ns without a fork, as the writers stamp acks.
now_ns() {
  local t=${EPOCHREALTIME/./}
  echo "${t}000"
}

# errno_name TEXT: the errno an `echo > file` error message names.
errno_name() {
  case $1 in
    *"No space left"*) echo ENOSPC ;;
    *"Input/output error"*) echo EIO ;;
    *"not connected"*) echo ENOTCONN ;;
    *"connection abort"*) echo ECONNABORTED ;;
    *"No such file"*) echo ENOENT ;;
    *"resource busy"*) echo EBUSY ;;
    *"Invalid argument"*) echo EINVAL ;;
    *"ermission denied"* | *"not permitted"*) echo EPERM ;;
    *) echo "OTHER:${1//[[:space:]]/_}" ;;
  esac
}

# control_try FILE TEXT: echo TEXT > control/FILE, logged before (B) and
# after (E, with the exit status and errno). Returns 1 once the daemon is
# gone (ENOENT: its mount was cleared already), so the storm ends.
control_try() {
  local file=$1 text=$2 err rc=0 name=-
  echo "B $(now_ns) $file $text" >>"$STORM_LOG"
  err=$({ echo "$text" >"$MNT/control/$file"; } 2>&1) || rc=$?
  [[ $rc -eq 0 ]] || name=$(errno_name "$err")
  echo "E $(now_ns) $rc $name" >>"$STORM_LOG"
  [[ $name != ENOTCONN && $name != ECONNABORTED && $name != ENOENT ]]
}

# random_range MAX_LEN: sets FIRST and COUNT (1..MAX_LEN sectors), inside a
# writer's region seven times in ten, so remaps meet acknowledged data.
random_range() {
  local max=$1 region_first region_count
  if ((RANDOM % 10 < 7)); then
    IFS=: read -r region_first region_count <<<"${REGIONS[RANDOM % ${#REGIONS[@]}]}"
  else
    region_first=0 region_count=$MAIN_SECTORS
  fi
  COUNT=$((1 + RANDOM % max))
  ((COUNT <= region_count)) || COUNT=$region_count
  FIRST=$((region_first + (RANDOM * 32768 + RANDOM) % (region_count - COUNT + 1)))
}

# near_fault: sets FIRST and COUNT to a range of up to 33 sectors around a
# recently injected fault, so scrub and add_bad meet it (an unreadable
# sector becomes pending: the SPEC's legitimate loss); at random without one.
FAULTED=()  # the last few faulted sectors
near_fault() {
  if ((${#FAULTED[@]} == 0)); then
    random_range 32
    return
  fi
  FIRST=$((FAULTED[RANDOM % ${#FAULTED[@]}] - RANDOM % 17))
  ((FIRST >= 0)) || FIRST=0
  COUNT=$((1 + RANDOM % 33))
  ((FIRST + COUNT <= MAIN_SECTORS)) || COUNT=$((MAIN_SECTORS - FIRST))
}

# spare_low: true when under a quarter of the spare is free, so the storm
# returns sectors before add_bad and auto-remaps meet a full spare.
spare_low() {
  local key value capacity=0 free=0
  while IFS=': ' read -r key value; do
    case $key in
      spare_capacity) capacity=$value ;;
      spare_free) free=$value ;;
    esac
  done < <(cat "$MNT/control/status" 2>/dev/null)
  ((free * 4 < capacity))
}

# storm_step: one random control write; returns 1 once the daemon is gone.
storm_step() {
  local dice=$((RANDOM % 100)) kinds=(read write rw)
  if spare_low; then
    random_range 1024
    control_try remove "$FIRST+$COUNT"
  elif ((dice < 30)); then
    if ((RANDOM % 5)); then random_range $((RANDOM % 10 ? 32 : 256)); else near_fault; fi
    control_try add_bad "$FIRST+$COUNT"
  elif ((dice < 55)); then
    random_range $((RANDOM % 10 ? 64 : 1024))
    control_try remove "$FIRST+$COUNT"
  elif ((dice < 72)); then
    random_range 2
    FAULTED=("$FIRST" "${FAULTED[@]:0:7}")
    control_try inject "${kinds[RANDOM % 3]} $FIRST+$COUNT"
  elif ((dice < 82)); then
    random_range 64
    if ((RANDOM % 3)); then control_try inject "clear $FIRST+$COUNT"; else control_try inject "clear all"; fi
  elif ((dice < 95)); then
    if ((RANDOM % 2)); then random_range 1024; else near_fault; fi
    if ((RANDOM % 3)); then control_try scrub "start $FIRST+$COUNT"; else control_try scrub stop; fi
  else
    control_try inject "latency $((RANDOM % 20))"
  fi
}

# remap_storm SEED: storm steps until STOP_FILE exists or the daemon is gone.
remap_storm() {
  RANDOM=$1
  while [[ ! -e $STOP_FILE ]]; do
    storm_step || break
  done
}
