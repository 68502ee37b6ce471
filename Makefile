# Coffer's build. `make test` runs every unit and envtest suite against a real kube-apiserver and
# etcd built from the Go module proxy into a per-user cache (first run only, ~5-10 minutes).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

CONTROLLER_GEN_VERSION := v0.23.0
CACHE_DIR ?= $(or $(COFFER_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/coffer)
TOOLS_BIN := $(CACHE_DIR)/tools
CONTROLLER_GEN := $(TOOLS_BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
GO_TEST_FLAGS ?=

.PHONY: all
all: build

$(CONTROLLER_GEN):
	@mkdir -p $(TOOLS_BIN)
	GOBIN=$(TOOLS_BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(TOOLS_BIN)/controller-gen $@

.PHONY: generate
generate: $(CONTROLLER_GEN) ## deepcopy functions for the API types
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## CRDs (and RBAC from controller markers) into config/
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=manager-role paths=./controllers/... paths=./webhooks/... paths=./cmd/... output:rbac:artifacts:config=config/rbac
	$(CONTROLLER_GEN) webhook paths=./webhooks/... output:webhook:artifacts:config=config/webhook

GENERATED = find api config/crd/bases config/rbac config/webhook -name 'zz_generated*.go' -o -name '*.yaml' -path '*/bases/*' -o -name role.yaml -o -name manifests.yaml

.PHONY: verify-gen
verify-gen: $(CONTROLLER_GEN) ## fails when deepcopy code or manifests are stale (regenerates them)
	@before=$$($(GENERATED) | sort | xargs sha256sum); \
	$(MAKE) -s generate manifests; \
	after=$$($(GENERATED) | sort | xargs sha256sum); \
	if [ "$$before" != "$$after" ]; then \
		echo "generated files were stale and have been regenerated; commit them:"; \
		diff <(echo "$$before") <(echo "$$after") | grep '^>' | awk '{print "  " $$3}'; exit 1; fi

.PHONY: controlplane
controlplane: ## build (once) and print the test control plane directory
	@hack/controlplane.sh

.PHONY: build
build: ## the coffer binary into bin/
	CGO_ENABLED=0 go build -o bin/coffer ./cmd/coffer

.PHONY: vet
vet:
	go vet ./...
	go vet -tags e2e ./test/e2e/

.PHONY: test
test: vet verify-gen tools ## generated files current, the unit and envtest suites, then the e2e suites
	hack/controlplane.sh kube-apiserver etcd kube-controller-manager kube-scheduler kubelet kube-proxy kubectl >/dev/null
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" go test -timeout 20m $(GO_TEST_FLAGS) ./...
	$(MAKE) -s e2e

# The e2e suites run after the others, never beside them: they and test/localcluster's
# TestCluster each bring the one local cluster up and down.
.PHONY: e2e
e2e: ## as root: the end-to-end suites on the local cluster with Coffer deployed from config/local
	hack/controlplane.sh kube-apiserver etcd kube-controller-manager kube-scheduler kubelet kube-proxy kubectl >/dev/null
	go test -tags e2e -timeout 30m $(GO_TEST_FLAGS) -v ./test/e2e/

.PHONY: tools
tools: ## build (once) the pinned restic, kopia and storage servers the tests run; install the database servers
	@for t in restic versitygw fake-gcs-server azurite kopia; do hack/tools.sh $$t >/dev/null; done
	@hack/dbservers.sh

.PHONY: fuzz
fuzz: ## a short run of every fuzz target
	go test ./cel/ -run '^$$' -fuzz FuzzCompileAndEvaluate -fuzztime 30s
	go test ./blueprints/ -run '^$$' -fuzz FuzzRender -fuzztime 30s
	go test ./blueprints/ -run '^$$' -fuzz FuzzResolve -fuzztime 30s
	go test ./webhooks/ -run '^$$' -fuzz FuzzWorkloadMutator -fuzztime 30s

BENCH_FLAGS ?= -size 1GiB -rounds 3

.PHONY: bench
bench: ## Coffer's engine vs restic and kopia, table into bin/bench.md (~15 min; BENCH_FLAGS=-quick: 1 min)
	@mkdir -p bin
	go run ./bench/engine $(BENCH_FLAGS) -out bin/bench.md

.PHONY: bench-admission
bench-admission: ## admission latency through a real API server vs a no-webhook baseline, and 1,000 Deployments to Ready configurations (~5 min)
	KUBEBUILDER_ASSETS="$$(hack/controlplane.sh)" go test ./cmd/coffer -run '^$$' -bench BenchmarkAdmissionThroughAPIServer -benchtime 1x -timeout 30m -v 2>&1 | grep -E 'FIGURE|^(ok|FAIL|---)'
	go test ./webhooks -run '^$$' -bench BenchmarkAdmissionHandlers -benchtime 5000x

.PHONY: run
run: ## as root: a real single-node cluster (kept running), Coffer deployed into it, the samples applied
	@hack/dbservers.sh
	go build -o bin/localcluster ./test/cmd/localcluster
	bin/localcluster up
	@# The data config/samples backs up and restores: a copy of Coffer's API types.
	mkdir -p /var/lib/coffer/demo/data && cp -r api /var/lib/coffer/demo/data/
	bin/localcluster deploy --samples config/samples

.PHONY: down
down: ## stop the cluster of `make run` and restore the host (iptables, links, sysctls, mounts)
	go build -o bin/localcluster ./test/cmd/localcluster
	bin/localcluster down

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "%-14s %s\n", $$1, $$2}'
