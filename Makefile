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

.PHONY: control-plane
control-plane: ## Build (once) the kube-apiserver, etcd and kubectl the tests use; prints their directory.
	hack/build-control-plane.sh

.PHONY: ci
ci: test lint ## Everything CI runs.

##@ Build

.PHONY: build
build: node_modules ## Compile the operator into dist/.
	$(NPX) tsc -p tsconfig.build.json
