# sprint — build, test and lint. `make help` lists the targets.
GO          ?= go
BIN         ?= bin
FUZZTIME    ?= 30s
# BENCH_BASE, when set (e.g. main), makes make bench measure that git
# revision's REST write path too, side by side (scripts/bench-api.sh).
BENCH_BASE  ?=
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        := ./...
# The version sprint and sprintctl report (sprint --version, GET /version,
# sprintctl version): the git description of the checkout when there is one.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: help build test lint fuzz bench run cluster e2e ui-shots cover tidy clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build sprint, sprintctl and mesos-sim into ./bin
	@mkdir -p $(BIN)
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/ ./cmd/...

test: ## race-enabled tests of every package (the CI test command)
	$(GO) test -race -count=1 -shuffle=on -timeout 9m $(PKGS)

lint: ## gofmt, go vet and staticcheck (pinned)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench: ## every benchmark of docs/benchmarks.md: in-package, raftstore vs etcd, end to end
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./controller/ ./mesos/sim/
	$(GO) test -run '^$$' -bench . -benchmem ./mesos/
	$(GO) test -run '^$$' -bench DecodeShapes -benchtime 3x -benchmem ./apis/
	$(GO) test -run '^$$' -bench FSMFootprint -benchtime 1x ./raftstore/
	scripts/bench-raftstore.sh
	BASE=$(BENCH_BASE) scripts/bench-api.sh
	scripts/bench-e2e.sh
	scripts/bench-watch.sh

run: build ## one sprint node on its embedded defaults
	./$(BIN)/sprint

cluster: build ## a local three-node cluster against one mesos-sim (scripts/cluster.sh)
	BIN=$(BIN) scripts/cluster.sh

e2e: build ## the full end-to-end suite across real processes
	SPRINT_E2E=1 $(GO) test -count=1 -timeout 60m ./test/...

ui-shots: ## run the web console's browser tests, saving their screenshots in docs/ui
	SPRINT_UI_SHOTS=docs/ui $(GO) test -count=1 -run 'TestConsole_(LiveRuns|TokenLogin|Schedules|PipelineGraph|NotifierCounts)' -timeout 5m ./test/e2e/

cover: ## coverage report in cover.out
	$(GO) test -count=1 -coverprofile=cover.out $(PKGS)

tidy: ## go mod tidy
	$(GO) mod tidy

clean: ## remove build output
	rm -rf $(BIN) cover.out
