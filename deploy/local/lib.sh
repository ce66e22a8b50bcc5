# shellcheck shell=bash
# Shared helpers for the deploy/local scripts. Source it after setting
# TF_SERVICE (used in the log prefix), e.g.:
#
#   TF_SERVICE=postgres
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It resolves the repository root, loads env.sh (connection settings and
# TICKETFLOW_VAR) and defines the directories every script shares:
#
#   $TICKETFLOW_VAR/services/<service>   data (delete to reset)
#   $TICKETFLOW_VAR/log/<service>.log    logs
#   $TICKETFLOW_VAR/run/<service>.pid    pid files, locks
#   $TICKETFLOW_VAR/bin                  built tools (stripe-mock)

TF_LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
TF_REPO_ROOT="$(cd "$TF_LOCAL_DIR/../.." && pwd)"
TF_SERVICE="${TF_SERVICE:-local}"

# shellcheck source=env.sh
source "$TF_LOCAL_DIR/env.sh"
case $TICKETFLOW_VAR in
/*) ;;
*) TICKETFLOW_VAR="$PWD/$TICKETFLOW_VAR" ;;
esac
export TICKETFLOW_VAR

TF_SERVICES_DIR="$TICKETFLOW_VAR/services"
TF_LOG_DIR="$TICKETFLOW_VAR/log"
TF_RUN_DIR="$TICKETFLOW_VAR/run"
TF_BIN_DIR="$TICKETFLOW_VAR/bin"

# The services, in start order.
# shellcheck disable=SC2034 # used by up.sh, down.sh, status.sh
TF_ALL_SERVICES=(postgres redis kafka stripe-mock)

# is_service NAME: NAME is one of the services above.
is_service() { [[ " ${TF_ALL_SERVICES[*]} " == *" $1 "* && -x $TF_LOCAL_DIR/$1.sh ]]; }

# --- logging -----------------------------------------------------------------

log() { printf '[ticketflow:%s] %s\n' "$TF_SERVICE" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() {
	log "ERROR: $*"
	exit 1
}

# show_log_tail FILE [LINES]: print the end of a log file, prefixed, to stderr.
show_log_tail() {
	local file=$1 lines=${2:-30}
	if [[ -s $file ]]; then
		log "last $lines lines of $file:"
		tail -n "$lines" -- "$file" | sed 's/^/    | /' >&2
	else
		log "(log file $file is empty or missing)"
	fi
}

# --- directories -------------------------------------------------------------

ensure_var_dirs() {
	mkdir -p "$TF_SERVICES_DIR" "$TF_LOG_DIR" "$TF_RUN_DIR" "$TF_BIN_DIR"
}

# ensure_traversable USER PATH: make sure USER can reach PATH, i.e. has search
# (x) permission on every ancestor directory. A repository cloned into a
# `mktemp -d` directory (mode 0700, owned by root) is the usual culprit. Each
# directory lacking it gets o+x (search only, not read), and we say so.
ensure_traversable() {
	local user=$1 path=$2 dir=""
	local -a parts
	[[ $(id -un) == "$user" ]] && return 0
	IFS=/ read -r -a parts <<<"${path#/}"
	for part in "${parts[@]}"; do
		[[ -n $part ]] || continue
		dir="$dir/$part"
		[[ -d $dir ]] || break
		if ! runuser -u "$user" -- test -x "$dir" 2>/dev/null; then
			chmod o+x -- "$dir" || die "cannot give user '$user' search permission on $dir"
			log "chmod o+x $dir (user '$user' must be able to traverse it to reach $path)"
		fi
	done
}

# rotate_log FILE: before a start, move FILE aside to FILE.1 once it has grown
# past 50 MB (services append to their logs across restarts).
rotate_log() {
	local file=$1
	if [[ -f $file ]] && (($(stat -c %s "$file") > 50 * 1024 * 1024)); then
		mv -f -- "$file" "$file.1"
	fi
}

# --- processes ---------------------------------------------------------------

# proc_cmdline PID: the command line of PID with NULs turned into spaces.
proc_cmdline() {
	local -a args
	mapfile -d '' -t args 2>/dev/null <"/proc/$1/cmdline" || return 1
	((${#args[@]} > 0)) || return 1
	printf '%s\n' "${args[*]}"
}

# pid_matches PID NEEDLE: PID is alive and its command line contains NEEDLE
# (guards against a recycled pid belonging to some other program).
pid_matches() {
	local pid=$1 needle=$2 cmd
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	pid_alive "$pid" || return 1
	cmd=$(proc_cmdline "$pid") || return 1
	[[ $cmd == *"$needle"* ]]
}

# pid_alive PID: process PID exists and is not a zombie (an exited process
# that its parent, often PID 1 here, has not reaped yet).
pid_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	stat=${stat##*) } # the state field follows "pid (comm) "
	[[ ${stat:0:1} != Z ]]
}

# pid_gone PID: process PID has exited.
pid_gone() { ! pid_alive "$1"; }

# read_pid_file FILE: print the pid stored in FILE, if it holds one.
read_pid_file() {
	local file=$1 pid
	[[ -s $file ]] || return 1
	pid=$(<"$file")
	pid=${pid//[[:space:]]/}
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$pid"
}

# find_pid NEEDLE: the first live process whose command line contains NEEDLE.
find_pid() {
	local needle=$1 f pid cmd comm
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		# Skip shells and wrappers that merely mention the needle.
		read -r comm 2>/dev/null <"/proc/$pid/comm" || continue
		case $comm in
		bash | sh | dash | zsh | setsid | runuser | timeout | nohup) continue ;;
		esac
		cmd=$(proc_cmdline "$pid") || continue
		if [[ $cmd == *"$needle"* ]]; then
			printf '%s\n' "$pid"
			return 0
		fi
	done
	return 1
}

# service_pid PIDFILE NEEDLE: print the pid of our running service: from the
# pid file when it is valid, else found by command line (and the pid file is
# repaired). Fails when the service is not running.
service_pid() {
	local pidfile=$1 needle=$2 pid
	if pid=$(read_pid_file "$pidfile") && pid_matches "$pid" "$needle"; then
		printf '%s\n' "$pid"
		return 0
	fi
	if pid=$(find_pid "$needle"); then
		printf '%s\n' "$pid" >"$pidfile" 2>/dev/null || true
		printf '%s\n' "$pid"
		return 0
	fi
	return 1
}

# start_detached PIDFILE LOGFILE CMD [ARGS...]: run CMD in its own session,
# detached from this terminal, stdout/stderr appended to LOGFILE, and write its
# pid to PIDFILE. The pid is written by the process itself just before it execs
# CMD, so it is the pid of CMD whatever setsid does.
start_detached() {
	local pidfile=$1 logfile=$2
	shift 2
	rm -f -- "$pidfile"
	# shellcheck disable=SC2016 # $$ and "$@" are expanded by the inner bash.
	setsid bash -c 'printf "%s\n" "$$" >"$0"; exec "$@"' "$pidfile" "$@" \
		</dev/null >>"$logfile" 2>&1 &
	local deadline=$((SECONDS + 10))
	until [[ -s $pidfile ]]; do
		((SECONDS < deadline)) || die "could not start $1 (no pid file $pidfile after 10 s)"
		sleep 0.05
	done
}

# stop_pid PID NEEDLE [TIMEOUT]: SIGTERM, wait up to TIMEOUT seconds (default
# 30), then SIGKILL. Only signals PID while it still matches NEEDLE.
stop_pid() {
	local pid=$1 needle=$2 timeout=${3:-30}
	pid_matches "$pid" "$needle" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	local deadline=$((SECONDS + timeout))
	while pid_matches "$pid" "$needle"; do
		if ((SECONDS >= deadline)); then
			warn "pid $pid did not exit within ${timeout} s of SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
}

# --- network -----------------------------------------------------------------

# port_open PORT [HOST]: something accepts TCP connections on HOST:PORT.
port_open() {
	local port=$1 host=${2:-127.0.0.1}
	# shellcheck disable=SC2016 # expanded by the inner bash
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null
}

# wait_until TIMEOUT PID CHECK [ARGS...]: poll CHECK every 0.5 s until it
# succeeds (return 0), TIMEOUT seconds pass (return 1) or, when PID is not
# empty, process PID exits (return 2).
wait_until() {
	local timeout=$1 pid=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@"; do
		if [[ -n $pid ]] && pid_gone "$pid"; then
			return 2
		fi
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

# wait_for_port PORT TIMEOUT [PID]
wait_for_port() { wait_until "$2" "${3:-}" port_open "$1"; }

# --- packages ----------------------------------------------------------------

# apt_install PACKAGE...: install Debian packages, serialised by a lock (up.sh
# starts services in parallel). Services the packages ship are not started:
# a policy-rc.d that says "no" is in place while dpkg runs.
apt_install() {
	[[ $EUID -eq 0 ]] || die "need root to run 'apt-get install $*' (or install it yourself and re-run)"
	command -v apt-get >/dev/null || die "apt-get not found; install $* yourself and re-run"
	ensure_var_dirs
	(
		flock -w 600 9 || die "timed out waiting for the apt lock $TF_RUN_DIR/apt.lock"
		export DEBIAN_FRONTEND=noninteractive
		local policy=/usr/sbin/policy-rc.d created_policy=0
		if [[ ! -e $policy ]]; then
			printf '#!/bin/sh\n# ticketflow deploy/local: do not start services while installing\nexit 101\n' >"$policy"
			chmod 0755 "$policy"
			created_policy=1
			# shellcheck disable=SC2064 # expand now: the path is fixed.
			trap "rm -f '$policy'" EXIT
		fi
		local stamp="$TF_RUN_DIR/apt-updated.stamp" apt_log="$TF_LOG_DIR/apt.log"
		if [[ -z $(find "$stamp" -mmin -60 2>/dev/null) ]]; then
			log "apt-get update (output: $apt_log)"
			if ! apt-get -o DPkg::Lock::Timeout=300 update >>"$apt_log" 2>&1; then
				show_log_tail "$apt_log"
				die "apt-get update failed (see $apt_log)"
			fi
			touch "$stamp"
		fi
		log "apt-get install -y $* (output: $apt_log)"
		if ! apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "$@" >>"$apt_log" 2>&1; then
			show_log_tail "$apt_log"
			die "apt-get install $* failed (see $apt_log)"
		fi
		((created_policy)) && rm -f "$policy"
		true
	) 9>"$TF_RUN_DIR/apt.lock"
}

# --- service scripts ---------------------------------------------------------

# status_line SERVICE STATE DETAILS: the one-line format status.sh prints.
status_line() { printf '%-12s %-8s %s\n' "$1" "$2" "$3"; }

# run_subcommand "$@": dispatch start|stop|status to the functions
# svc_start, svc_stop, svc_status defined by the calling script.
run_subcommand() {
	local cmd=${1:-}
	case $cmd in
	start) svc_start ;;
	stop) svc_stop ;;
	status) svc_status ;;
	*)
		printf 'usage: %s start|stop|status\n' "$(basename "$0")" >&2
		exit 2
		;;
	esac
}
