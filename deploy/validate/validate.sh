#!/usr/bin/env bash
# Validate TicketFlow's deployment files with the reference tools, without a container
# engine or a cluster:
#
#   compose  deploy/docker-compose.yml, loaded by compose-go (the loader inside Docker
#            Compose, the Compose Specification's reference implementation) with the
#            values of .env.example: schema, interpolation, depends_on/volume consistency.
#   k8s      every manifest in deploy/k8s and the `kustomize build` of it, checked by
#            kubeconform in strict mode against JSON schemas generated from Kubernetes' own
#            OpenAPI document and KEDA's CRDs: a misspelt field or a wrong type fails.
#
# usage: deploy/validate/validate.sh [all | tools | compose [FILE [ENV_FILE]] | k8s [DIR]]
#
# The tools are Go programs pinned in deploy/validate/go.mod and go.sum and built from the
# Go module proxy; the schemas come from the pinned modules below. Everything downloaded or
# built lives under var/validate (or $TICKETFLOW_VALIDATE_DIR), keyed by those pins, so a
# second run only checks the files. Needs Go >= 1.24; nothing else.
set -euo pipefail

# --- Pins -------------------------------------------------------------------------------
# Kubernetes OpenAPI document: api/openapi-spec/swagger.json of this release.
K8S_MODULE=k8s.io/kubernetes
K8S_VERSION=v1.34.4
K8S_SUM="h1:Yy6R4QB8C9kJPp25GFqEvX5XQwY5qzKeqD0Xx6oAcmk="
# KEDA CRDs (ScaledObject, TriggerAuthentication...): config/crd/bases of this release.
KEDA_MODULE=github.com/kedacore/keda/v2
KEDA_VERSION=v2.21.0
KEDA_SUM="h1:R6z2HZvstK4RLUMxroNACzBj74xGxt3kG59b5Xc+Xps="
GO_MINIMUM=1.24

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
STATE=${TICKETFLOW_VALIDATE_DIR:-$ROOT/var/validate}
BIN=$STATE/bin
OUT=$STATE/out

TEMPORARY=()
cleanup() { ((${#TEMPORARY[@]})) && rm -f "${TEMPORARY[@]}"; return 0; }
trap cleanup EXIT

say() { printf 'validate: %s\n' "$*"; }
fail() {
	printf 'validate: FAILED: %s\n' "$*" >&2
	exit 1
}

# --- Go, isolated under $STATE ------------------------------------------------------------
use_go() {
	command -v go >/dev/null 2>&1 ||
		fail "Go >= $GO_MINIMUM is needed to build the validators (e.g. apt-get install golang, or go.dev/dl)"
	local version
	version=$(go env GOVERSION)
	version=${version#go}
	if [[ $(printf '%s\n%s\n' "$GO_MINIMUM" "$version" | sort -V | head -n1) != "$GO_MINIMUM" ]]; then
		fail "Go $version is too old; the validators need Go >= $GO_MINIMUM"
	fi
	export GOPATH=$STATE/go GOMODCACHE=$STATE/go/mod GOCACHE=$STATE/go/cache
	# -modcacherw keeps the module cache deletable with a plain `rm -rf var/validate`.
	export GOFLAGS="-modcacherw -mod=readonly -buildvcs=false" GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0
	unset GOBIN GOOS GOARCH
}

sources_hash() {
	(
		cd "$HERE"
		cat go.mod go.sum composecheck/*.go k8sschemas/*.go
		go env GOVERSION
	) | sha256sum | cut -c1-16
}

tools() {
	use_go
	mkdir -p "$BIN" "$OUT"
	local stamp
	stamp=$(sources_hash)
	if [[ -f $BIN/.stamp && $(<"$BIN/.stamp") == "$stamp" ]]; then
		return 0
	fi
	say "building composecheck, k8sschemas, kubeconform and kustomize (first run: about a minute)"
	(
		cd "$HERE"
		go build -trimpath -o "$BIN/" ./composecheck ./k8sschemas \
			github.com/yannh/kubeconform/cmd/kubeconform sigs.k8s.io/kustomize/kustomize/v5
	) || fail "could not build the validators (is the Go module proxy reachable?)"
	echo "$stamp" >"$BIN/.stamp"
}

# Download a pinned module and check it is the exact content recorded above.
module_dir() {
	local module=$1 version=$2 sum=$3 json dir got
	mkdir -p "$STATE/download"
	# The h1: hash pinned above is what go.sum would hold, so the checksum database adds
	# nothing: GOSUMDB=off keeps the proxy the only host this needs.
	json=$(cd "$STATE/download" && GOFLAGS=-modcacherw GOSUMDB=off go mod download -json "$module@$version") ||
		fail "could not download $module@$version from the Go module proxy"
	got=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<<"$json")
	[[ $got == "$sum" ]] || fail "$module@$version has checksum $got, expected $sum"
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")
	[[ -d $dir ]] || fail "$module@$version was not extracted"
	printf '%s\n' "$dir"
}

schemas() {
	tools
	SCHEMAS=$STATE/schemas/k8s-$K8S_VERSION-keda-$KEDA_VERSION-$(<"$BIN/.stamp")
	[[ -f $SCHEMAS/.complete ]] && return 0
	say "generating Kubernetes $K8S_VERSION and KEDA $KEDA_VERSION schemas"
	local k8s keda
	k8s=$(module_dir "$K8S_MODULE" "$K8S_VERSION" "$K8S_SUM")
	keda=$(module_dir "$KEDA_MODULE" "$KEDA_VERSION" "$KEDA_SUM")
	rm -rf "$SCHEMAS"
	"$BIN/k8sschemas" -swagger "$k8s/api/openapi-spec/swagger.json" -out "$SCHEMAS" \
		"$keda"/config/crd/bases/keda.sh_*.yaml
	touch "$SCHEMAS/.complete"
}

# --- Checks -------------------------------------------------------------------------------
check_compose() {
	local file=${1:-$ROOT/deploy/docker-compose.yml} env_file=${2:-$ROOT/.env.example}
	tools
	[[ -f $file ]] || fail "no Compose file at $file"
	[[ -f $env_file ]] || fail "no env file at $env_file"
	local out=$OUT/compose.json
	if [[ $file != "$ROOT/deploy/docker-compose.yml" ]]; then
		out=$(mktemp "$OUT/compose.XXXXXX")
		TEMPORARY+=("$out")
	fi
	"$BIN/composecheck" -env-file "$env_file" -out "$out" "$file" ||
		fail "$file is not a valid Compose file (see the message above)"
}

check_k8s() {
	local dir=${1:-$ROOT/deploy/k8s}
	schemas
	[[ -f $dir/kustomization.yaml ]] || fail "no kustomization.yaml in $dir"
	local -a files args
	mapfile -t files < <(find "$dir" -maxdepth 1 -type f -name '*.yaml' ! -name kustomization.yaml | sort)
	((${#files[@]})) || fail "no manifests in $dir"
	args=(-strict -summary -output text -schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json")
	"$BIN/kubeconform" "${args[@]}" "${files[@]}" ||
		fail "manifests in $dir do not match the Kubernetes $K8S_VERSION / KEDA $KEDA_VERSION schemas"
	local rendered=$OUT/k8s-rendered.yaml
	if [[ $dir != "$ROOT/deploy/k8s" ]]; then
		rendered=$(mktemp "$OUT/k8s-rendered.XXXXXX")
		TEMPORARY+=("$rendered")
	fi
	"$BIN/kustomize" build "$dir" >"$rendered" || fail "kustomize build $dir failed"
	"$BIN/kubeconform" "${args[@]}" "$rendered" || fail "the kustomize build of $dir is invalid"
	say "k8s: $dir is valid (rendered output: $rendered)"
}

command=${1:-all}
[[ $# -gt 0 ]] && shift
mkdir -p "$STATE"
# One run at a time builds or downloads (pytest may start several).
exec 9>"$STATE/.lock"
flock 9
case $command in
all)
	check_compose
	check_k8s
	say "all deployment files are valid"
	;;
tools) schemas ;;
compose) check_compose "$@" ;;
k8s) check_k8s "$@" ;;
*) fail "unknown command '$command' (all, tools, compose [FILE [ENV_FILE]], k8s [DIR])" ;;
esac
