#!/usr/bin/env bash
# Kafka for TicketFlow: a single-node KRaft broker+controller,
# PLAINTEXT://127.0.0.1:$KAFKA_PORT (59092), controller on $KAFKA_CONTROLLER_PORT
# (59093).
#
#   deploy/local/kafka.sh start|stop|status
#
# The jars come from Maven Central through deploy/local/kafka/pom.xml (resolved
# once into $TICKETFLOW_VAR/kafka/libs, again only when the pom changes), and
# the broker runs as `java -cp "libs/*" kafka.Kafka server.properties`.
# Topics are NOT auto-created (auto.create.topics.enable=false).
#
#   config  $TICKETFLOW_VAR/kafka/{server.properties,log4j2.properties}
#   data    $TICKETFLOW_VAR/services/kafka (formatted once with kafka.tools.StorageTool)
#   log     $TICKETFLOW_VAR/log/kafka.log (+ kafka.stdout.log for JVM output)
#   pid     $TICKETFLOW_VAR/run/kafka.pid
set -euo pipefail

TF_SERVICE=kafka
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KAFKA_POM="$TF_LOCAL_DIR/kafka/pom.xml"
KAFKA_HOME="$TICKETFLOW_VAR/kafka"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_LIBS_STAMP="$KAFKA_LIBS/.pom.sha256"
KAFKA_CONF="$KAFKA_HOME/server.properties"
KAFKA_LOG4J="$KAFKA_HOME/log4j2.properties"
KAFKA_DATA="$TF_SERVICES_DIR/kafka"
KAFKA_LOG="$TF_LOG_DIR/kafka.log"
KAFKA_STDOUT="$TF_LOG_DIR/kafka.stdout.log"
KAFKA_PIDFILE="$TF_RUN_DIR/kafka.pid"
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
# Our broker's command line names our config file.
KAFKA_NEEDLE="kafka.Kafka $KAFKA_CONF"

JAVA_OPTS=(
	-Xms256m -Xmx768m
	-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
	-XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError
	-Djava.awt.headless=true
	"-Dlog4j2.configurationFile=$KAFKA_LOG4J"
)

our_pid() { service_pid "$KAFKA_PIDFILE" "$KAFKA_NEEDLE"; }

ensure_java() {
	command -v java >/dev/null || die "java not found: Kafka 4.x needs a Java 17+ runtime on PATH"
	local version
	version=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
	local major=${version%%.*}
	if ! [[ $major =~ ^[0-9]+$ ]] || ((major < 17)); then
		die "java on PATH is version ${version:-unknown}; Kafka 4.x needs Java 17 or newer"
	fi
}

# Resolve the broker's jars with Maven, unless they match the current pom.
ensure_libs() {
	local want
	want=$(sha256sum "$KAFKA_POM" | cut -d ' ' -f 1)
	if [[ -f $KAFKA_LIBS_STAMP && $(<"$KAFKA_LIBS_STAMP") == "$want" ]]; then
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found: it is needed once to fetch the Kafka jars (apt-get install maven)"
	local tmp="$KAFKA_LIBS.tmp"
	rm -rf -- "$tmp"
	local mvn_log="$TF_LOG_DIR/kafka-maven.log"
	log "resolving Kafka jars with Maven into $KAFKA_LIBS (once; cached in ~/.m2; output: $mvn_log)"
	if ! mvn -q -B -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
		"-DoutputDirectory=$tmp" >>"$mvn_log" 2>&1; then
		show_log_tail "$mvn_log"
		die "Maven could not resolve the Kafka jars from $KAFKA_POM (see $mvn_log)"
	fi
	compgen -G "$tmp/kafka_2.13-*.jar" >/dev/null || die "Maven ran but $tmp has no kafka_2.13 jar"
	printf '%s\n' "$want" >"$tmp/.pom.sha256"
	rm -rf -- "$KAFKA_LIBS"
	mv -- "$tmp" "$KAFKA_LIBS"
}

write_config() {
	mkdir -p "$KAFKA_HOME" "$KAFKA_DATA"
	cat >"$KAFKA_CONF" <<EOF
# Written by deploy/local/kafka.sh on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_DATA

auto.create.topics.enable=false
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
num.recovery.threads.per.data.dir=1
EOF
	cat >"$KAFKA_LOG4J" <<EOF
# Written by deploy/local/kafka.sh on every start; edits are lost.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $KAFKA_LOG
appender.file.filePattern = $KAFKA_LOG.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
# WARN keeps the log small (coordinator INFO lines run to megabytes in a test session);
# the startup line the readiness check waits for is logged at INFO by KafkaRaftServer.
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
logger.raftserver.name = kafka.server.KafkaRaftServer
logger.raftserver.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
EOF
}

# Format the storage directory once (KRaft needs a cluster id on disk).
ensure_formatted() {
	[[ -s $KAFKA_DATA/meta.properties ]] && return 0
	local cluster_id
	cluster_id=$(java "-Dlog4j2.configurationFile=$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" \
		kafka.tools.StorageTool random-uuid 2>>"$KAFKA_STDOUT") ||
		die "kafka.tools.StorageTool random-uuid failed (see $KAFKA_STDOUT)"
	log "formatting $KAFKA_DATA (cluster id $cluster_id)"
	if ! java "-Dlog4j2.configurationFile=$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*" \
		kafka.tools.StorageTool format --config "$KAFKA_CONF" --cluster-id "$cluster_id" \
		--ignore-formatted >>"$KAFKA_STDOUT" 2>&1; then
		show_log_tail "$KAFKA_STDOUT"
		die "kafka.tools.StorageTool format failed for $KAFKA_DATA (see $KAFKA_STDOUT)"
	fi
}

# The log (rotated at every start, so it holds this run only) says the server started.
log_says_started() {
	[[ -f $KAFKA_LOG ]] && grep -q 'Kafka Server started' "$KAFKA_LOG"
}

broker_ready() { port_open "$KAFKA_PORT" && log_says_started; }

fail_start() {
	show_log_tail "$KAFKA_LOG" 30
	show_log_tail "$KAFKA_STDOUT" 10
	die "$* (logs: $KAFKA_LOG, $KAFKA_STDOUT)"
}

svc_start() {
	local pid
	if pid=$(our_pid); then
		if wait_for_port "$KAFKA_PORT" 5 "$pid"; then
			log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
			return 0
		fi
		fail_start "Kafka pid $pid is running but 127.0.0.1:$KAFKA_PORT does not answer; try deploy/local/down.sh kafka"
	fi
	local port
	for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
		if port_open "$port"; then
			die "port $port (kafka) is taken by a process not started from $TICKETFLOW_VAR; stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
		fi
	done

	ensure_var_dirs
	ensure_java
	ensure_libs
	write_config
	ensure_formatted

	rotate_log "$KAFKA_STDOUT"
	if [[ -f $KAFKA_LOG ]]; then mv -f -- "$KAFKA_LOG" "$KAFKA_LOG.prev"; fi
	local jar
	jar=$(compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" | head -n 1)
	jar=${jar##*/kafka_2.13-}
	log "starting Kafka ${jar%.jar} on 127.0.0.1:$KAFKA_PORT (log: $KAFKA_LOG)"
	start_detached "$KAFKA_PIDFILE" "$KAFKA_STDOUT" \
		java "${JAVA_OPTS[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CONF"
	pid=$(read_pid_file "$KAFKA_PIDFILE") || die "no pid in $KAFKA_PIDFILE"

	local rc=0
	wait_until "$KAFKA_START_TIMEOUT" "$pid" broker_ready || rc=$?
	case $rc in
	0) ;;
	2) fail_start "the Kafka broker (pid $pid) exited during startup" ;;
	*) fail_start "Kafka did not start within ${KAFKA_START_TIMEOUT} s (port $KAFKA_PORT open and 'Kafka Server started' logged)" ;;
	esac
	log "ready on 127.0.0.1:$KAFKA_PORT (pid $pid)"
}

svc_stop() {
	local pid
	if ! pid=$(our_pid); then
		if port_open "$KAFKA_PORT"; then
			warn "port $KAFKA_PORT is served by a process these scripts did not start from $TICKETFLOW_VAR; leaving it alone"
		else
			log "not running"
		fi
		rm -f -- "$KAFKA_PIDFILE"
		return 0
	fi
	log "stopping (pid $pid; SIGTERM, SIGKILL after 60 s)"
	stop_pid "$pid" "$KAFKA_NEEDLE" 60
	rm -f -- "$KAFKA_PIDFILE"
	log "stopped"
}

svc_status() {
	local pid
	if pid=$(our_pid) && port_open "$KAFKA_PORT"; then
		status_line kafka running "127.0.0.1:$KAFKA_PORT (pid $pid; controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)"
	elif pid=$(our_pid); then
		status_line kafka starting "127.0.0.1:$KAFKA_PORT (pid $pid; port not open yet)"
		return 3
	elif port_open "$KAFKA_PORT"; then
		status_line kafka foreign "127.0.0.1:$KAFKA_PORT (not started from $TICKETFLOW_VAR)"
	else
		status_line kafka stopped "127.0.0.1:$KAFKA_PORT"
		return 3
	fi
}

run_subcommand "$@"
