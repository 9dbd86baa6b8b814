# hvnet — every entry point the README documents. `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
HOSTS ?= 2
USER_MODE ?= root
KIND ?= ns
PULUMI_VERSION = $(shell node -p 'require("./node_modules/@pulumi/pulumi/package.json").version' 2>/dev/null)

.PHONY: help setup deps npm build bpf helper pulumi examples test test-unit test-e2e demo lab-up lab-down bench bench-datapath clean

help:
	@echo "make setup            install everything a fresh Debian bookworm machine needs (idempotent)"
	@echo "make demo             bring up a 2-host lab and apply the quickstart example"
	@echo "make test             setup, then the whole test suite (what CI runs)"
	@echo "make lab-up HOSTS=n   start n local hypervisors (network + mount namespaces, sshd)"
	@echo "                      USER_MODE=sudo: reached as a non-root user allowed only the hvnet launcher (make build first)"
	@echo "                      KIND=vm: QEMU guests on Linux 7.x with a netdevsim NIC (software emulation)"
	@echo "make lab-down         remove every trace of the lab (either kind)"
	@echo "make bench            benchmarks, written to BENCHMARKS.md"
	@echo "make examples         install the packed package into examples/*"

setup: deps npm pulumi build

deps:
	@scripts/setup-debian.sh

npm: node_modules/.package-lock.json
# npm install, not npm ci: npm 11's npm ci refuses this lock file for the optional
# per-platform packages it leaves out (jest's resolver bindings for other systems). The
# lock still pins every version; npm install with an in-sync lock changes nothing.
node_modules/.package-lock.json: package.json package-lock.json
	npm install --no-audit --no-fund
	@touch $@

bpf:
	@$(MAKE) --no-print-directory -C bpf OUT=$(CURDIR)/dist/bpf

build: npm bpf
	npx tsc -p tsconfig.json
	@$(MAKE) --no-print-directory helper

helper:
	@node scripts/build-helper.js

pulumi: npm
	@scripts/build-pulumi.sh

test: setup
	@scripts/run-tests.sh

test-unit: npm
	npx jest test/unit

test-e2e: setup
	npx jest test/e2e

# Installs the npm-packed package into every example (never a symlink: see examples/README.md).
examples: build
	@scripts/pack-examples.sh

demo: setup
	@scripts/demo.sh

lab-up:
ifeq ($(KIND),vm)
	@scripts/vmlab/vmlab.sh up --hosts $(HOSTS)
else
	@scripts/lab.sh up --hosts $(HOSTS) --user-mode $(USER_MODE)
endif

lab-down:
	@if [ -f .lab/vmlab.state ]; then scripts/vmlab/vmlab.sh down; else scripts/lab.sh down; fi

bench: setup
	@scripts/bench.sh

bench-datapath: setup
	@scripts/bench.sh datapath

clean:
	rm -rf dist
