#!/usr/bin/env bash
# Build, test, demo and benchmark entry point for Dsql.Connector.
#
#   ./build.sh test          build the solution and run every tests/**/*.Tests.csproj (the connector's
#                            net10.0 pass alone, then the rest two at a time); prints failures, one summary
#                            line per project and last "N passed, N failed[, N skipped]"
#   ./build.sh demo [args]   build only the quickstart and what it references, and run it
#                            (or, without the sample, the dsql-emulator tool)
#   ./build.sh api           rewrite the public API baseline (PublicAPI.*.txt) from the code
#   ./build.sh bench [args]  build and run the performance lab (tests/Dsql.Connector.Benchmarks):
#                            every scenario side by side, results in docs/performance/<mode>.md/.json
#   ./build.sh prereqs       only check/install the prerequisites
#
# Prerequisites: the .NET 10 SDK, and PostgreSQL server binaries (initdb,
# pg_ctl, postgres) which the emulator uses to run throwaway clusters. When the
# PostgreSQL binaries are missing they are installed from Debian packages.
#
# Environment:
#   CI=true          non-interactive run (as on CI)
#   PG_BIN           directory holding initdb, pg_ctl and postgres
#   TEST_VERBOSITY   console logger verbosity for dotnet test (default: minimal: failures and a
#                    summary per project; normal lists every test)
#   TEST_JOBS        test runs side by side after the solo run (default 2; 1: every project one after
#                    the other, output streamed, as before)
#   PG_PROBE_ROOT    testing aid only: look for PostgreSQL under this root
#                    instead of / and ignore PATH, so the install branch can be
#                    exercised on a machine that has PostgreSQL
#   PREREQ_DRY_RUN=1 testing aid only: print install commands instead of running them
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

SOLUTION="Dsql.Connector.sln"
CONFIGURATION="Release"
RESULTS_DIR="artifacts/test-results"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DEBIAN_FRONTEND=noninteractive
if [[ "${CI:-}" == "true" ]]; then
  export DOTNET_CLI_UI_LANGUAGE="${DOTNET_CLI_UI_LANGUAGE:-en}"
  export MSBUILDTERMINALLOGGER=off
fi

log() { printf '==> %s\n' "$*" >&2; }
err() { printf 'error: %s\n' "$*" >&2; }

# Runs "$@" as one named step: says when it starts and how long it took, and while it runs without a terminal
# (CI, a pipe) prints a line every PROGRESS_SECONDS so that a long step is never silent.
PROGRESS_SECONDS="${PROGRESS_SECONDS:-15}"
step() {
  local name="$1"; shift
  local started=$SECONDS rc=0 pid ticker=""
  log "$name"
  if [[ ! -t 2 ]]; then
    ( while sleep "$PROGRESS_SECONDS"; do printf '    ... %s (%d s)\n' "$name" $(( SECONDS - started )) >&2; done ) &
    ticker=$!
  fi
  "$@" || rc=$?
  if [[ -n "$ticker" ]]; then
    kill "$ticker" 2>/dev/null || true
    wait "$ticker" 2>/dev/null || true
  fi
  if [[ "$rc" -eq 0 ]]; then
    log "$name: done in $(( SECONDS - started )) s"
  else
    err "$name: failed (exit $rc) after $(( SECONDS - started )) s"
  fi
  return "$rc"
}

usage() {
  cat <<'EOF'
Usage: ./build.sh <command> [args]

Commands:
  test           build the solution (Release) and run every test project under tests/ (the
                 connector's net10.0 pass alone, then the rest TEST_JOBS=2 at a time); prints
                 failures and one summary line per project; TRX results and each run's output go
                 to artifacts/test-results; last line is "N passed, N failed[, N skipped]"
  demo [args]    build only samples/Quickstart and what it references, and run it
                 (without the sample, the dsql-emulator tool)
  api            rewrite PublicAPI.Shipped.txt/Unshipped.txt of every packable library from
                 the code (new members go to Unshipped); review the diff before committing
  bench [args]   build and run the performance lab (tests/Dsql.Connector.Benchmarks): token,
                 rent, connect, transaction (BenchmarkDotNet), emulator, storm, contention and
                 soak; results in docs/performance/full.md and .json (about 25 minutes)
                   --quick        the whole lab in under 10 minutes (docs/performance/quick.*)
                   --only a,b     only these scenarios      --soak S   soak seconds
                   bdn [args]     plain BenchmarkDotNet over the micro benchmarks
  prereqs        check (and if needed install) the .NET SDK and PostgreSQL binaries
EOF
}

# --------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------

ensure_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    local candidate
    for candidate in "${DOTNET_ROOT:-}" "$HOME/.dotnet"; do
      if [[ -n "$candidate" && -x "$candidate/dotnet" ]]; then
        export PATH="$candidate:$PATH"
        break
      fi
    done
  fi
  if ! command -v dotnet >/dev/null 2>&1; then
    err "'dotnet' was not found on PATH."
    err "Install the .NET 10 SDK (https://dotnet.microsoft.com/download/dotnet/10.0) and re-run."
    exit 1
  fi
}

# True when $1 is a directory holding initdb, pg_ctl and postgres.
pg_dir_complete() {
  local dir="$1"
  [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]
}

# Succeeds (and prints where) when PostgreSQL server binaries can be found.
find_postgres() {
  local probe_root="${PG_PROBE_ROOT:-}"
  if pg_dir_complete "${PG_BIN:-}"; then
    printf '%s\n' "$PG_BIN"
    return 0
  fi
  if [[ -z "$probe_root" ]]; then
    local pg_ctl_path real_dir
    if pg_ctl_path="$(command -v pg_ctl 2>/dev/null)"; then
      # Report the directory of the real binary (PATH may hold a symlink).
      real_dir="$(dirname "$(readlink -f "$pg_ctl_path" 2>/dev/null || printf '%s' "$pg_ctl_path")")"
      printf '%s\n' "$real_dir"
      return 0
    fi
  fi
  # Newest version first, as the emulator prefers.
  local dir
  while IFS= read -r dir; do
    if pg_dir_complete "$dir"; then
      printf '%s\n' "$dir"
      return 0
    fi
  done < <(printf '%s\n' "$probe_root"/usr/lib/postgresql/*/bin | sort -rV)
  return 1
}

# Sets the array AS_ROOT to the prefix that runs a command as root, or fails.
AS_ROOT=()
resolve_root_runner() {
  if [[ "$(id -u)" -eq 0 ]]; then
    AS_ROOT=()
    return 0
  fi
  if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
    AS_ROOT=(sudo -n)
    return 0
  fi
  return 1
}

run_root() {
  if [[ "${PREREQ_DRY_RUN:-}" == "1" ]]; then
    printf 'would run: %s\n' "${AS_ROOT[*]:+${AS_ROOT[*]} }$*" >&2
    return 0
  fi
  "${AS_ROOT[@]}" "$@"
}

APT_UPDATED=0
apt_install() {
  if [[ "$APT_UPDATED" -eq 0 ]]; then
    log "apt-get update"
    run_root apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  run_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=300 "$@"
}

print_manual_postgres_help() {
  err "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found, and packages"
  err "cannot be installed automatically (not root, and 'sudo -n' is not available)."
  err "Install them, then re-run. For example:"
  err "  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y postgresql"
  err "  Fedora/RHEL:    sudo dnf install -y postgresql-server"
  err "  macOS:          brew install postgresql@16"
  err "Or point PG_BIN at a directory that holds initdb, pg_ctl and postgres."
}

# Best effort: the Debian package creates and starts a 'main' cluster on port
# 5432. The emulator runs its own clusters on free ports, so stop the packaged
# one to keep the machine quiet. Never fails.
stop_packaged_clusters() {
  [[ "${PREREQ_DRY_RUN:-}" == "1" ]] && return 0
  if command -v pg_lsclusters >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1; then
    local version name _port status _rest
    while read -r version name _port status _rest; do
      [[ "$status" == online* ]] || continue
      log "stopping packaged PostgreSQL cluster $version/$name"
      "${AS_ROOT[@]}" pg_ctlcluster "$version" "$name" stop >/dev/null 2>&1 || true
    done < <(pg_lsclusters --no-header 2>/dev/null || true)
  elif command -v service >/dev/null 2>&1; then
    "${AS_ROOT[@]}" service postgresql stop >/dev/null 2>&1 || true
  fi
  return 0
}

# Exports PG_BIN for the emulator when it is unset and $1 holds all three binaries.
export_pg_bin() {
  if [[ -z "${PG_BIN:-}" ]] && pg_dir_complete "$1"; then
    export PG_BIN="$1"
  fi
}

ensure_postgres() {
  local found
  if found="$(find_postgres)"; then
    export_pg_bin "$found"
    return 0
  fi

  log "PostgreSQL server binaries not found; installing the Debian 'postgresql' package"
  if ! command -v apt-get >/dev/null 2>&1; then
    print_manual_postgres_help
    exit 1
  fi
  if ! resolve_root_runner; then
    print_manual_postgres_help
    exit 1
  fi

  apt_install postgresql
  stop_packaged_clusters

  if [[ "${PREREQ_DRY_RUN:-}" == "1" ]]; then
    return 0
  fi
  if ! found="$(find_postgres)"; then
    err "the 'postgresql' package was installed but initdb/pg_ctl/postgres are still missing"
    exit 1
  fi
  export_pg_bin "$found"
  log "using PostgreSQL binaries in $found"
}

# As root the emulator starts PostgreSQL as the 'postgres' system user through
# runuser, so both must be present.
ensure_root_helpers() {
  [[ "$(id -u)" -eq 0 ]] || return 0
  AS_ROOT=()
  if ! command -v runuser >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      log "'runuser' not found; installing util-linux"
      apt_install util-linux
    else
      err "'runuser' (util-linux) is required when building as root; please install it"
      exit 1
    fi
  fi
  if ! id -u postgres >/dev/null 2>&1; then
    log "creating the 'postgres' system user"
    if command -v useradd >/dev/null 2>&1; then
      run_root useradd --system --user-group --home-dir /var/lib/postgresql \
        --shell /bin/bash postgres
    elif command -v adduser >/dev/null 2>&1; then
      run_root adduser --system --group --home /var/lib/postgresql \
        --shell /bin/bash postgres
    else
      err "cannot create the 'postgres' system user (no useradd/adduser)"
      exit 1
    fi
  fi
}

ensure_prereqs() {
  ensure_dotnet
  ensure_postgres
  ensure_root_helpers
}

# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------

build_solution() {
  step "build $SOLUTION ($CONFIGURATION)" dotnet build "$SOLUTION" -c "$CONFIGURATION" -nologo -v minimal
}

# Test projects, one per line, sorted.
list_test_projects() {
  find tests -name '*.Tests.csproj' -type f 2>/dev/null | LC_ALL=C sort
}

# Builds test projects that are not part of the solution, so --no-build works
# for them too. Returns non-zero if any of those builds failed.
build_projects_outside_solution() {
  local proj status=0
  while IFS= read -r proj; do
    [[ -n "$proj" ]] || continue
    if ! grep -qF "$(basename "$proj")" "$SOLUTION"; then
      step "build $proj (not in $SOLUTION)" dotnet build "$proj" -c "$CONFIGURATION" -nologo -v minimal || status=1
    fi
  done < <(list_test_projects)
  return "$status"
}

# --------------------------------------------------------------------------
# test
# --------------------------------------------------------------------------

# Reads one integer attribute from a <Counters .../> element; 0 when absent.
counter_attr() {
  local counters="$1" name="$2" value
  value="$(printf '%s\n' "$counters" | sed -n "s/.*[[:space:]]$name=\"\\([0-9][0-9]*\\)\".*/\\1/p")"
  printf '%s\n' "${value:-0}"
}

# Runs one test project: every target framework it has, one after the other, or only framework $4. One TRX per
# target framework ({framework} is the logger's own placeholder); minimal verbosity prints the failures with their
# messages and one line per assembly, not every passing test.
run_test_project() {
  local proj="$1" name="$2" verbosity="$3" framework="${4:-}"
  dotnet test "$proj" -c "$CONFIGURATION" --no-build ${framework:+--framework "$framework"} \
    --logger "trx;LogFilePrefix=$name" \
    --logger "console;verbosity=$verbosity" \
    --results-directory "$RESULTS_DIR"
}

# The same in the background, as the process whose id $! gives (so that stopping it stops dotnet test itself).
start_test_project() {
  local proj="$1" name="$2" verbosity="$3" framework="${4:-}" output="$5"
  (
    exec dotnet test "$proj" -c "$CONFIGURATION" --no-build ${framework:+--framework "$framework"} \
      --logger "trx;LogFilePrefix=$name" \
      --logger "console;verbosity=$verbosity" \
      --results-directory "$RESULTS_DIR"
  ) > "$output" 2>&1 < /dev/null &
}

# How ./build.sh test spends its time (docs/testing.md). A run is "<project name>" or "<project name> <framework>".
# First, alone: the connector's net10.0 pass. It holds the load, contention and chaos scenarios (16 workers on 4
# rows, connection storms, sessions cut under 8 workers), whose retry budgets assume that no other test process
# competes for the two cores; its net8.0 pass leaves exactly those out (VSTestTestCaseFilter in the project).
SOLO_TEST_RUNS=("Dsql.Connector.Tests net10.0")
# Then everything else, TEST_JOBS at a time, these first (the longest: about 190 s and 60 s on CI) so that the
# short projects fill the slot that frees first.
LONG_TEST_RUNS=("Dsql.Emulator.Tests" "Dsql.Connector.Tests net8.0")

# The runs of the projects given: a project named in SOLO_TEST_RUNS or LONG_TEST_RUNS is split into those runs
# (its net8.0 run only while DsqlNet8TestsEnabled is not false), any other project is one run. Prints
# "<solo|shared> <project path> [framework]" lines, solo runs first, then the long runs, then the rest.
plan_test_runs() {
  local proj name run run_name run_framework split
  for run in "${SOLO_TEST_RUNS[@]}" "${LONG_TEST_RUNS[@]}"; do
    read -r run_name run_framework <<< "$run"
    [[ "$run_framework" == "net8.0" && "${DsqlNet8TestsEnabled:-true}" == "false" ]] && continue
    for proj in "$@"; do
      [[ "$(basename "$proj" .csproj)" == "$run_name" ]] || continue
      if [[ " ${SOLO_TEST_RUNS[*]} " == *" $run "* ]]; then
        printf 'solo %s %s\n' "$proj" "$run_framework"
      else
        printf 'shared %s %s\n' "$proj" "$run_framework"
      fi
    done
  done
  for proj in "$@"; do
    name="$(basename "$proj" .csproj)"
    split=0
    for run in "${SOLO_TEST_RUNS[@]}" "${LONG_TEST_RUNS[@]}"; do
      [[ "${run%% *}" == "$name" ]] && split=1
    done
    [[ "$split" -eq 0 ]] && printf 'shared %s\n' "$proj"
  done
}

# Runs the planned runs: the solo ones one after the other with nothing beside them (output streamed), then the
# shared ones $1 at a time. Each shared run's output goes to $RESULTS_DIR/<name>[_<framework>].log and is printed
# whole when that run ends, so two runs' lines never mix. Adds each run's exit code and seconds to the caller's
# exit_codes and durations of its project.
run_planned_tests() {
  local slots="$1" verbosity="$2"; shift 2
  local mode proj framework name label rc pid
  local shared=()
  while read -r mode proj framework; do
    name="$(basename "$proj" .csproj)"
    if [[ "$mode" == "solo" ]]; then
      label="$name${framework:+ $framework}"
      local started=$SECONDS
      rc=0
      step "test $label (alone)" run_test_project "$proj" "$name" "$verbosity" "$framework" || rc=$?
      record_test_run "$name" "$rc" $(( SECONDS - started ))
    else
      shared+=("$proj|$framework")
    fi
  done < <(plan_test_runs "$@")

  log "test ${#shared[@]} runs, $slots at a time (TEST_JOBS=1: one after the other)"
  local -A pids=() begun=() labels=() names=()
  local all_started=$SECONDS last_tick=$SECONDS next=0 key
  # Interrupted (Ctrl-C, CI cancelling): stop the runs still going (dotnet test, its vstest.console and test host)
  # instead of leaving them behind.
  trap 'for pid in "${pids[@]}"; do stop_process_tree "$pid"; done; exit 130' INT TERM
  while [[ "$next" -lt "${#shared[@]}" || "${#pids[@]}" -gt 0 ]]; do
    while [[ "$next" -lt "${#shared[@]}" && "${#pids[@]}" -lt "$slots" ]]; do
      proj="${shared[$next]%%|*}"
      framework="${shared[$next]#*|}"
      next=$(( next + 1 ))
      name="$(basename "$proj" .csproj)"
      key="$name${framework:+_$framework}"
      labels["$key"]="$name${framework:+ $framework}"
      names["$key"]="$name"
      log "test ${labels[$key]}"
      start_test_project "$proj" "$name" "$verbosity" "$framework" "$RESULTS_DIR/$key.log"
      pids["$key"]=$!
      begun["$key"]=$SECONDS
    done
    sleep 1
    for key in "${!pids[@]}"; do
      pid="${pids[$key]}"
      kill -0 "$pid" 2>/dev/null && continue
      rc=0
      wait "$pid" || rc=$?
      unset 'pids[$key]'
      record_test_run "${names[$key]}" "$rc" $(( SECONDS - begun[$key] ))
      cat "$RESULTS_DIR/$key.log"
      if [[ "$rc" -eq 0 ]]; then
        log "test ${labels[$key]}: done in $(( SECONDS - begun[$key] )) s"
      else
        err "test ${labels[$key]}: failed (exit $rc) after $(( SECONDS - begun[$key] )) s"
      fi
    done
    if [[ "${#pids[@]}" -gt 0 && $(( SECONDS - last_tick )) -ge "$PROGRESS_SECONDS" ]]; then
      last_tick=$SECONDS
      printf '    ... test %s (%d s)\n' "$(for key in "${!pids[@]}"; do printf '%s\n' "${labels[$key]}"; done | LC_ALL=C sort | paste -sd ',' | sed 's/,/, /g')" $(( SECONDS - all_started )) >&2
    fi
  done
  trap - INT TERM
  log "tests side by side: done in $(( SECONDS - all_started )) s"
}

# Stops process $1 and everything it started, children first.
stop_process_tree() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    stop_process_tree "$child"
  done
  kill "$1" 2>/dev/null || true
}

# Adds one run's exit code (the first failure wins) and seconds to its project's (caller's exit_codes/durations).
record_test_run() {
  local name="$1" rc="$2" seconds="$3"
  if [[ -z "${exit_codes[$name]:-}" || "${exit_codes[$name]}" -eq 0 ]]; then
    exit_codes["$name"]=$rc
  fi
  durations["$name"]=$(( ${durations[$name]:-0} + seconds ))
}

cmd_test() {
  ensure_prereqs

  local build_ok=1
  build_solution || build_ok=0
  build_projects_outside_solution || true

  mkdir -p "$RESULTS_DIR"
  find "$RESULTS_DIR" -name '*.trx' -type f -delete

  local projects=()
  local proj
  while IFS= read -r proj; do
    [[ -n "$proj" ]] && projects+=("$proj")
  done < <(list_test_projects)

  if [[ "${#projects[@]}" -eq 0 ]]; then
    err "no test projects (*.Tests.csproj) found under tests/"
    echo "0 passed, 0 failed"
    exit 1
  fi

  local verbosity="${TEST_VERBOSITY:-minimal}"
  local jobs="${TEST_JOBS:-2}"
  [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { err "TEST_JOBS must be a positive number, not '$jobs'"; exit 2; }
  local -A exit_codes=() durations=()
  local name rc started
  if [[ "$jobs" -eq 1 ]]; then
    for proj in "${projects[@]}"; do
      name="$(basename "$proj" .csproj)"
      rc=0
      started=$SECONDS
      step "test $name" run_test_project "$proj" "$name" "$verbosity" || rc=$?
      exit_codes["$name"]=$rc
      durations["$name"]=$(( SECONDS - started ))
    done
  else
    run_planned_tests "$jobs" "$verbosity" "${projects[@]}"
  fi

  # Sum the counters of every project's TRX file(s).
  local total_passed=0 total_failed=0 total_skipped=0
  local notes=()
  local trx counters p f s t found_trx project_failed project_passed project_skipped
  local summaries=()
  for proj in "${projects[@]}"; do
    name="$(basename "$proj" .csproj)"
    found_trx=0
    project_failed=0
    project_passed=0
    project_skipped=0
    while IFS= read -r trx; do
      [[ -n "$trx" ]] || continue
      counters="$(tr -d '\r\n' < "$trx" | grep -o '<Counters[^>]*>' | head -n 1 || true)"
      [[ -n "$counters" ]] || continue
      found_trx=1
      p="$(counter_attr "$counters" passed)"
      f=$(( $(counter_attr "$counters" failed) + $(counter_attr "$counters" error) \
          + $(counter_attr "$counters" timeout) + $(counter_attr "$counters" aborted) ))
      # VSTest's TRX logger leaves notExecuted at 0 for skipped tests and
      # only reports them as total - executed; take whichever is larger.
      s="$(counter_attr "$counters" notExecuted)"
      t=$(( $(counter_attr "$counters" total) - $(counter_attr "$counters" executed) ))
      (( t > s )) && s=$t
      total_passed=$(( total_passed + p ))
      total_failed=$(( total_failed + f ))
      total_skipped=$(( total_skipped + s ))
      project_failed=$(( project_failed + f ))
      project_passed=$(( project_passed + p ))
      project_skipped=$(( project_skipped + s ))
    done < <(find "$RESULTS_DIR" -maxdepth 2 -type f \( -name "$name.trx" -o -name "${name}_*.trx" \) 2>/dev/null | LC_ALL=C sort)
    summaries+=("$(printf '%-28s %5d passed, %d failed, %d skipped  (%d s)' "$name" "$project_passed" "$project_failed" "$project_skipped" "${durations[$name]}")")

    rc="${exit_codes[$name]}"
    if [[ "$found_trx" -eq 0 ]]; then
      total_failed=$(( total_failed + 1 ))
      notes+=("$name: no TRX results (dotnet test exited $rc; build failure or test host crash) - counted as 1 failed")
    elif [[ "$rc" -ne 0 && "$project_failed" -eq 0 ]]; then
      total_failed=$(( total_failed + 1 ))
      notes+=("$name: dotnet test exited $rc with no failed test recorded - counted as 1 failed")
    fi
  done

  if [[ "$build_ok" -eq 0 ]]; then
    total_failed=$(( total_failed + 1 ))
    notes+=("build of $SOLUTION failed (tests above may have run stale binaries) - counted as 1 failed")
  fi

  echo
  echo "Test results: $RESULTS_DIR"
  local line
  for line in "${summaries[@]}"; do
    echo "  $line"
  done
  local note
  for note in "${notes[@]+"${notes[@]}"}"; do
    echo "FAILED: $note"
  done

  local summary="$total_passed passed, $total_failed failed"
  if [[ "$total_skipped" -gt 0 ]]; then
    summary+=", $total_skipped skipped"
  fi

  local status=0
  if [[ "$total_failed" -gt 0 ]]; then
    status=1
  elif [[ $(( total_passed + total_failed )) -eq 0 ]]; then
    echo "FAILED: no tests ran"
    status=1
  fi
  echo "$summary"
  exit "$status"
}

# --------------------------------------------------------------------------
# demo / bench
# --------------------------------------------------------------------------

cmd_demo() {
  ensure_prereqs
  # Without the sample, run the emulator itself (the dsql-emulator tool): it prints connection strings.
  local project=src/Dsql.Emulator.Tool
  [[ -d samples/Quickstart ]] && project=samples/Quickstart
  # Only the demo and what it references, for its own framework (net10.0): no tests, no net8.0 builds, no
  # analyzers, no XML docs (./build.sh test does all of that). On a fresh clone this restores and compiles three
  # projects: 32 s of CPU (user + sys, fresh clone, -m:1, no compiler server) where building the whole solution
  # took 121 s.
  step "build $project and its references" \
    dotnet build "$project" -c "$CONFIGURATION" -nologo -v minimal -p:RunAnalyzers=false -p:GenerateDocumentationFile=false
  log "run $project"
  exec dotnet run --project "$project" -c "$CONFIGURATION" --no-build -- "$@"
}

# Rewrites the public API baseline of every packable library from the code: both files are reset (Shipped keeps
# what it lists), the analyzers' code fix adds what is public and not listed (RS0016) to PublicAPI.Unshipped.txt
# and removes what is listed and gone (RS0017). One project at a time: the fix does not always reach every
# project of a solution in one run.
cmd_api() {
  ensure_dotnet
  local proj
  while IFS= read -r proj; do
    [[ -n "$proj" ]] || continue
    grep -q '<IsPackable>true</IsPackable>' "$proj" || continue
    grep -q '<PackAsTool>true</PackAsTool>' "$proj" && continue
    local dir
    dir="$(dirname "$proj")"
    [[ -f "$dir/PublicAPI.Shipped.txt" ]] || printf '#nullable enable\n' > "$dir/PublicAPI.Shipped.txt"
    printf '#nullable enable\n' > "$dir/PublicAPI.Unshipped.txt"
    step "public API of $proj" dotnet format analyzers "$proj" --diagnostics RS0016 RS0017 --severity warn -v quiet
    # Keep the file sorted and free of the duplicates one entry per target framework would leave.
    { head -n 1 "$dir/PublicAPI.Unshipped.txt"; tail -n +2 "$dir/PublicAPI.Unshipped.txt" | LC_ALL=C sort -u; } > "$dir/PublicAPI.Unshipped.txt.new"
    mv "$dir/PublicAPI.Unshipped.txt.new" "$dir/PublicAPI.Unshipped.txt"
  done < <(find src -name '*.csproj' -type f | LC_ALL=C sort)
  log "baseline rewritten; review with: git diff -- 'src/*/PublicAPI.*.txt'"
}

cmd_bench() {
  ensure_prereqs
  build_solution
  exec dotnet run --project tests/Dsql.Connector.Benchmarks -c "$CONFIGURATION" --no-build -- "$@"
}

main() {
  local command="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$command" in
    test) cmd_test "$@" ;;
    demo) cmd_demo "$@" ;;
    api) cmd_api "$@" ;;
    bench) cmd_bench "$@" ;;
    prereqs) ensure_prereqs; log "prerequisites satisfied" ;;
    -h|--help|help) usage; exit 0 ;;
    *)
      [[ -n "$command" ]] && err "unknown command: $command"
      usage >&2
      exit 2
      ;;
  esac
}

main "$@"
