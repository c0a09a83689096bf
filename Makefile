# Kompost: Kubernetes operator for self-service PostgreSQL databases.
# Target names follow Kubebuilder's; `make help` lists them.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
NPX := npx --no-install

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

.PHONY: manifests
manifests: node_modules ## Render the CRDs in config/crd/bases from the schema sources in api/.
	$(NPX) tsx hack/generate.ts crds

.PHONY: generate
generate: node_modules ## Render the TypeScript types in api/v1alpha1/generated from the schema sources.
	$(NPX) tsx hack/generate.ts types

.PHONY: chart
chart: node_modules ## Render the Helm chart charts/kompost from config/default, the sources of dist/install.yaml.
	$(NPX) tsx hack/generate-chart.ts

.PHONY: fmt
fmt: node_modules ## Format the code with prettier.
	$(NPX) prettier --write .

.PHONY: lint
lint: node_modules ## Type-check, lint and check formatting.
	$(NPX) tsc -p tsconfig.json --noEmit
	$(NPX) eslint .
	$(NPX) prettier --check .

.PHONY: test
test: ## Set up what the tests need (npm packages, PostgreSQL, control plane) and run the whole suite.
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" npm test

.PHONY: test-node24
test-node24: ## Run the whole suite again on Node 24, the Dockerfile's runtime (from npm's node package).
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" npx --yes --package=node@24 -- npm test

.PHONY: test-postgres18
test-postgres18: ## Run the whole suite again against PostgreSQL 18 (Debian ships 15; hack/install-postgres.sh fetches 18).
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" PG_BIN="$$(hack/install-postgres.sh 18)" npm test

.PHONY: test-node24-postgres18
test-node24-postgres18: ## Run the whole suite on Node 24 against PostgreSQL 18 at once (CI's second cell: covers both in one run).
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" PG_BIN="$$(hack/install-postgres.sh 18)" npx --yes --package=node@24 -- npm test

# The tests that talk to PostgreSQL: the SQL layer, the controllers and the server harness.
POSTGRES_SPECS = 'services/**/*.test.ts' 'controllers/**/*.test.ts' 'test/adversarial/**/*.test.ts' 'test/harness/postgres*.test.ts'

.PHONY: test-postgres16 test-postgres17
test-postgres16 test-postgres17: ## Run the PostgreSQL-facing tests (SQL layer, controllers) against PostgreSQL 16 or 17.
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" PG_BIN="$$(hack/install-postgres.sh $(@:test-postgres%=%))" \
		$(NPX) mocha $(POSTGRES_SPECS)

.PHONY: test-faults
test-faults: ## Run the fault-injection suite (test/faults): SIGKILLs, PostgreSQL and API server outages, failover, deletion order (KOMPOST_FAULT_SEED=n replays).
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" $(NPX) mocha 'test/faults/**/*.test.ts'

.PHONY: test-shuffled
test-shuffled: ## Run npm test's files in a random file order (not in CI); TEST_SEED=n replays one, TEST_ONLY="test/ controllers/" keeps those.
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" $(NPX) tsx hack/shuffle-test-files.ts $(TEST_ONLY)

.PHONY: bench
bench: ## Kompost side by side with the floor and the Go peer for N databases: create, restart, idle, delete; writes bench/results/ (BENCH_SIZES=100,300,1000 BENCH_CONCURRENCY=4 BENCH_PROFILE=1 BENCH_REF=HEAD BENCH_PEER_SRC=dir).
	hack/setup-test-env.sh
	KUBEBUILDER_ASSETS="$$(hack/build-control-plane.sh)" $(NPX) tsx hack/bench.ts

.PHONY: run
run: node_modules ## Run the operator against the cluster of the current kubeconfig (flags: ARGS="--leader-elect ...").
	$(NPX) tsx cmd/main.ts $(ARGS)

.PHONY: dev
dev: ## Run Kompost on this machine: local control plane, PostgreSQL, the operator and config/samples; Ctrl-C stops it all (ARGS="--ready-timeout 300").
	hack/setup-test-env.sh
	node --import tsx hack/dev.ts $(ARGS)

.PHONY: control-plane
control-plane: ## Build (once) kube-apiserver, etcd, kubectl and kube-controller-manager for the tests; prints their directory.
	hack/build-control-plane.sh

.PHONY: ci
ci: test test-faults test-node24-postgres18 test-postgres16 test-postgres17 lint ## Everything CI runs.

##@ Build

.PHONY: build
build: node_modules ## Compile the operator into dist/.
	$(NPX) tsc -p tsconfig.build.json

# The image `docker-build` tags and `deploy`/`build-installer` put into the
# Deployment; the released one unless given (make deploy IMG=registry/kompost:dev).
VERSION ?= $(shell node -p "require('./package.json').version")
IMG ?= ghcr.io/kompost/kompost:$(VERSION)
CONTAINER_TOOL ?= docker

.PHONY: docker-build
docker-build: ## Build the operator's container image IMG (needs a Docker or Podman engine).
	$(CONTAINER_TOOL) build -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the container image IMG.
	$(CONTAINER_TOOL) push $(IMG)

.PHONY: build-installer
build-installer: node_modules ## Write dist/install.yaml (CRDs, namespace, RBAC, Deployment for IMG), config/argocd/argocd-cm.yaml and charts/kompost.
	mkdir -p dist
	{ echo "# Kompost $(VERSION): kubectl apply --server-side -f install.yaml"; \
	  echo "# Generated by make build-installer from config/default. DO NOT EDIT."; \
	  $(call kustomize-with-image,config/default,$(CONTROL_PLANE_KUBECTL) kustomize); } >dist/install.yaml.tmp
	mv dist/install.yaml.tmp dist/install.yaml
	{ echo "# Argo CD health checks for Kompost's kinds, to merge into argocd-cm:"; \
	  echo "#   kubectl apply --server-side --field-manager=kompost -n argocd -f argocd-cm.yaml"; \
	  echo "# Generated by make build-installer from config/argocd/health. DO NOT EDIT."; \
	  $(CONTROL_PLANE_KUBECTL) kustomize config/argocd/health; } >config/argocd/argocd-cm.yaml.tmp
	mv config/argocd/argocd-cm.yaml.tmp config/argocd/argocd-cm.yaml
	$(NPX) tsx hack/generate-chart.ts

##@ Deployment

# The kubectl (and its built-in kustomize) that talks to your cluster: the one
# on PATH, else the test control plane's (built on first use). The generated
# files are always rendered with the control plane's pinned kubectl, so they do
# not depend on which kubectl happens to be installed.
CONTROL_PLANE_KUBECTL = $(shell hack/build-control-plane.sh)/kubectl
KUBECTL ?= $(or $(shell command -v kubectl),$(CONTROL_PLANE_KUBECTL))
KUSTOMIZE ?= $(KUBECTL) kustomize

ifndef ignore-not-found
  ignore-not-found = false
endif

# Renders the kustomization in $(1) with the Deployment's image set to $(IMG),
# through a throw-away overlay (kustomize needs a relative path to its base),
# with the kustomize command $(2), or $(KUSTOMIZE).
define kustomize-with-image
overlay="$$(mktemp -d)"; trap 'rm -rf "$$overlay"' EXIT; \
printf '%s\n' \
  "resources:" \
  "  - $$(realpath --relative-to="$$overlay" "$(1)")" \
  "patches:" \
  "  - target: {kind: Deployment, labelSelector: control-plane=controller-manager}" \
  "    patch: '[{\"op\": \"replace\", \"path\": \"/spec/template/spec/containers/0/image\", \"value\": \"$(IMG)\"}]'" \
  >"$$overlay/kustomization.yaml"; \
$(or $(2),$(KUSTOMIZE)) "$$overlay"
endef

.PHONY: install
install: ## Install the CRDs into the cluster of the current kubeconfig context.
	$(KUSTOMIZE) config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: ## Remove the CRDs, and with them every Kompost resource (ignore-not-found=true to ignore missing ones).
	$(KUSTOMIZE) config/crd | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: ## Deploy the operator (CRDs, RBAC, Deployment for IMG) into the cluster of the current kubeconfig context.
	$(call kustomize-with-image,config/default) | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator and its CRDs from the cluster (ignore-not-found=true to ignore missing ones).
	$(call kustomize-with-image,config/default) | $(KUBECTL) delete --ignore-not-found=$(ignore-not-found) -f -
