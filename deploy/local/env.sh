# shellcheck shell=bash
# Connection settings of the local TicketFlow services (deploy/local/up.sh).
#
#   source deploy/local/env.sh
#
# Every value can be overridden by setting it in the environment first. The
# ports are deliberately not the standard ones, so these services never collide
# with a developer's own PostgreSQL, Redis or Kafka.
#
# Meant to be sourced into an interactive shell too: it sets no shell options.

# Data root (git-ignored): <repo>/var, where <repo> holds deploy/local/env.sh.
if [ -z "${TICKETFLOW_VAR:-}" ]; then
	TICKETFLOW_VAR="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/../.." && pwd)/var"
fi

# PostgreSQL
: "${POSTGRES_HOST:=127.0.0.1}"
: "${POSTGRES_PORT:=55432}"
: "${POSTGRES_USER:=ticketflow}"
: "${POSTGRES_PASSWORD:=ticketflow-local}"
: "${POSTGRES_DB:=ticketflow}"
: "${POSTGRES_DOCUMENTS_DB:=ticketflow_documents}"

# Redis
: "${REDIS_HOST:=127.0.0.1}"
: "${REDIS_PORT:=56379}"
: "${REDIS_PASSWORD:=ticketflow-local}"
: "${REDIS_URL:=redis://:${REDIS_PASSWORD}@${REDIS_HOST}:${REDIS_PORT}/0}"

# Kafka (single-node KRaft: broker and controller in one process)
: "${KAFKA_PORT:=59092}"
: "${KAFKA_CONTROLLER_PORT:=59093}"
: "${KAFKA_BOOTSTRAP_SERVERS:=127.0.0.1:${KAFKA_PORT}}"

# stripe-mock (HTTP only)
: "${STRIPE_MOCK_PORT:=12111}"
: "${STRIPE_API_BASE:=http://127.0.0.1:${STRIPE_MOCK_PORT}}"

export TICKETFLOW_VAR
export POSTGRES_HOST POSTGRES_PORT POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB POSTGRES_DOCUMENTS_DB
export REDIS_HOST REDIS_PORT REDIS_PASSWORD REDIS_URL
export KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_BOOTSTRAP_SERVERS
export STRIPE_MOCK_PORT STRIPE_API_BASE
