# The commands a newcomer types. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

# Outside tools (pdfcpu, minio) live here; scripts/deps.sh puts them there.
TOOLS := $(HOME)/.cache/eseal/bin
export PATH := $(TOOLS):$(PATH)

GO       ?= go
FUZZTIME ?= 5m
CORPUS   := cmd/eseal/testdata/corpus

.PHONY: build test check deps vet unit fuzz fuzz-short bench bench-http bench-cluster test-cluster lint fmt demo corpus seeds clean

## build: the eseal binary in bin/, static (no cgo: Go's own DNS resolver, no libc at run time, a faster start)
build:
	CGO_ENABLED=0 $(GO) build -o bin/eseal ./cmd/eseal

## test: outside tools, checks (gofmt, vet, staticcheck, tidy go.mod), every test with the tools required, short fuzzing
test:
	scripts/deps.sh
	$(MAKE) --no-print-directory check
	ESEAL_REQUIRE_TOOLS=1 ESEAL_ARTIFACTS=$(CURDIR)/artifacts $(GO) test -count=1 -timeout 25m ./...
	scripts/fuzz.sh short

## deps: install qpdf, poppler-utils, openssl, JDK + Bouncy Castle, pdfcpu, MinIO
deps:
	scripts/deps.sh

## check: gofmt, go vet, staticcheck and a tidy go.mod — each fails on any finding
check:
	@unformatted=$$(gofmt -s -l .); if [ -n "$$unformatted" ]; then echo "gofmt -s needed:" $$unformatted >&2; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) mod tidy -diff

vet:
	$(GO) vet ./...

## unit: the tests alone (outside tools skipped when missing)
unit:
	$(GO) test -count=1 -timeout 25m ./...

## fuzz: every fuzz target for FUZZTIME (default 5m) each
fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh long

fuzz-short:
	scripts/fuzz.sh short

## bench: stamping and verification benchmarks (and `eseal stamp` as a process) into bench.txt, summarised by benchstat
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./pdf/ ./seal/ | tee bench.txt
	CGO_ENABLED=0 $(GO) test -run '^$$' -bench '^BenchmarkCLIStamp$$' -benchtime 20x -count 3 ./cmd/eseal/ | tee -a bench.txt
	$(GO) tool benchstat bench.txt

## bench-http: bounded loopback load test, one run: REST on the filesystem store and on MinIO, the Service, the bare Stamper (c = 1, 4, 16, 160)
bench-http:
	ESEAL_BENCH_HTTP=1 $(GO) test -count=1 -timeout 30m -run '^TestLoadHTTP$$' -v ./api/ | grep -v '^=== '

## test-cluster: the node-loss test alone (also part of make test) on scripts/cluster.sh's cluster (root): 300 stampings, a MinIO node and a replica killed
test-cluster:
	ESEAL_REQUIRE_TOOLS=1 $(GO) test -count=1 -timeout 25m -run '^TestClusterNodeLoss$$' -v ./cmd/eseal/

## bench-cluster: 300 stampings at c = 16 through HAProxy on scripts/cluster.sh's cluster (root; docs/deploy.md)
bench-cluster:
	ESEAL_BENCH_CLUSTER=300 $(GO) test -count=1 -run '^TestClusterThroughput$$' -v ./cmd/eseal/ | grep -v '^=== '

## lint: staticcheck
lint:
	$(GO) tool staticcheck ./...

fmt:
	gofmt -s -w .

## demo: a fresh data dir in demo/ (ignored by git: it holds keys), the approval notice stamped and verified
demo: build
	rm -rf demo && mkdir -p demo
	bin/eseal init --dir demo/data --org "余姚市行政审批管理办公室" --json | tee demo/init.json
	seal=$$(sed -n 's/.*"seal_id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' demo/init.json | head -1); \
	bin/eseal --dir demo/data stamp --seal "$$seal" --in $(CORPUS)/seeds/approval-a4-cjk.pdf \
		--out demo/approval-stamped.pdf --page 1 --x 125 --y 200
	bin/eseal verify --dir demo/data demo/approval-stamped.pdf
	@echo "demo: stamped file in demo/approval-stamped.pdf"

## corpus: the stamping test corpus in $(CORPUS)/out
corpus:
	$(CORPUS)/build.sh $(CORPUS)/out

## seeds: regenerate the committed seed PDFs the corpus is built from
seeds:
	$(GO) run ./$(CORPUS)/seedgen -out $(CORPUS)/seeds

clean:
	rm -rf bin demo bench.txt $(CORPUS)/out
