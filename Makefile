# Every entry point of the project. Tools are installed at pinned versions into
# .tools/ (git-ignored); caches stay warm between runs (Go's own build cache,
# jsii's package cache under .cache/).
SHELL := /bin/bash
.DEFAULT_GOAL := help

STAGE ?= dev
TOOLS := $(CURDIR)/.tools
BUILD := $(CURDIR)/build
export JSII_RUNTIME_PACKAGE_CACHE_ROOT ?= $(CURDIR)/.cache/jsii
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_HOME ?= $(CURDIR)/.cache/cdk

GOLANGCI_LINT_VERSION := v2.15.0
ACTIONLINT_VERSION := v1.7.12

# The Python interpreter that has moto and cfn-lint (TOOLCHAIN.md): python3 on
# PATH, else pyenv's. Found once (sub-makes inherit it); tests read MOTO_PYTHON.
# FOQUS_PYTHON is another one: where foqus_lib imports (the opt-in real-FOQUS test).
PYTHON_CANDIDATES := $(shell command -v python3 2>/dev/null) $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/*/bin/python3)
ifeq ($(origin MOTO_PYTHON),undefined)
MOTO_PYTHON := $(shell for p in $(PYTHON_CANDIDATES); do $$p -c 'import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("moto", "flask", "cfnlint")))' 2>/dev/null && { echo $$p; break; }; done)
endif
export MOTO_PYTHON

.PHONY: help test build bench lint python tools clean openapi

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

python: ## check that the interpreter with moto and cfn-lint is there
	@if [ -z "$(MOTO_PYTHON)" ]; then \
	  echo "No python3 with moto, flask and cfn-lint found (looked at: $(PYTHON_CANDIDATES))." >&2; \
	  echo "Install them with: pip install 'moto[server]' cfn-lint" >&2; exit 1; fi
	@echo "python: $(MOTO_PYTHON)"

include mk/*.mk

build: build-functions build-worker ## build every Lambda bootstrap and the worker (linux and windows)

test: python build synth ## run every test (unit, moto-backed, fuzz seed corpora, CDK, end to end) with the race detector
	@# local/devstack, the end-to-end package, took 1,181 s of a 20 min limit on a loaded machine: 40 min.
	FOQUS_E2E=1 go test -race -count=1 -timeout 40m ./...
	@# The CDK module without -race: jsii-runtime-go races in its own Close (jsii.Close in TestMain).
	go test -count=1 -timeout 20m ./infra/...

bench: python build synth ## print throughput and latency figures against moto (store, handlers, worker, end to end)
	go test -run '^$$' -bench . -benchtime 1x ./...

openapi: ## write functions/openapi/openapi.json from core/api's routes and the handlers' types (served at GET /openapi.json)
	go test -count=1 -run '^TestDocumentIsCurrent$$' ./functions/openapi -update

lint: $(TOOLS)/golangci-lint $(TOOLS)/actionlint ## gofmt, go vet and golangci-lint on every module, actionlint on the workflows
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	go vet ./... ./infra/...
	$(TOOLS)/golangci-lint run ./... ./infra/...
	$(TOOLS)/actionlint
	@# A tag can be moved to other code; a commit cannot: every action outside this repository by its full SHA.
	@out=$$(grep -rnE '^\s*-?\s*uses:\s+[^.][^@]*@' .github | grep -vE '@[0-9a-f]{40}( |$$)'); if [ -n "$$out" ]; then echo "actions not pinned to a commit SHA:"; echo "$$out"; exit 1; fi

$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

$(TOOLS)/actionlint:
	GOBIN=$(TOOLS) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

tools: $(TOOLS)/golangci-lint $(TOOLS)/actionlint ## install every pinned tool

clean: ## remove build outputs (caches stay)
	rm -rf $(BUILD) cdk.out
