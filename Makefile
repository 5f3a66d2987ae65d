# Developer targets. CI runs .ci/run, which uses the same test command.
GO ?= go
FUZZTIME ?= 30s

.PHONY: test race lint fuzz bench run perf

test:
	$(GO) test -count=1 ./...

race:
	$(GO) test -race -count=1 ./...

lint:
	gofmt -l $$(git ls-files '*.go')
	$(GO) vet ./...
	staticcheck ./...

# Runs every fuzz target of the tree for FUZZTIME each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

run:
	$(GO) run ./bench

# The measurements behind PERFORMANCE.md: the bench command's workloads in
# the shapes of the performance issue, then the peers side by side. Text and
# JSON land in bench-out/perf (ignored by git). About 8 minutes. The -recycled
# lines are the same shapes in steady state: compacting behind, on recycled files.
PERF_OUT ?= bench-out/perf
perf:
	mkdir -p $(PERF_OUT)
	$(GO) run ./bench -workload batch-wait -batch 1 -size 128 -json $(PERF_OUT)/bw-1x128.json | tee $(PERF_OUT)/bw-1x128.txt
	$(GO) run ./bench -workload batch-wait -batch 1024 -size 128 -json $(PERF_OUT)/bw-1024x128.json | tee $(PERF_OUT)/bw-1024x128.txt
	$(GO) run ./bench -workload batch-wait -batch 1024 -size 1024 -json $(PERF_OUT)/bw-1024x1024.json | tee $(PERF_OUT)/bw-1024x1024.txt
	$(GO) run ./bench -workload pipelined -batch 64 -size 128 -json $(PERF_OUT)/pipe-64x128.json | tee $(PERF_OUT)/pipe-64x128.txt
	$(GO) run ./bench -workload pipelined -batch 64 -size 1024 -json $(PERF_OUT)/pipe-64x1024.json | tee $(PERF_OUT)/pipe-64x1024.txt
	$(GO) run ./bench -workload pipelined -batch 64 -size 128 -inflight 50000 -json $(PERF_OUT)/pipe-50k.json | tee $(PERF_OUT)/pipe-50k.txt
	$(GO) run ./bench -recycled -workload batch-wait -batch 1024 -size 128 -json $(PERF_OUT)/rec-bw-1024x128.json | tee $(PERF_OUT)/rec-bw-1024x128.txt
	$(GO) run ./bench -recycled -workload batch-wait -batch 1024 -size 1024 -json $(PERF_OUT)/rec-bw-1024x1024.json | tee $(PERF_OUT)/rec-bw-1024x1024.txt
	$(GO) run ./bench -recycled -workload pipelined -batch 64 -size 128 -json $(PERF_OUT)/rec-pipe-64x128.json | tee $(PERF_OUT)/rec-pipe-64x128.txt
	$(GO) run ./bench -recycled -workload pipelined -batch 64 -size 1024 -json $(PERF_OUT)/rec-pipe-64x1024.json | tee $(PERF_OUT)/rec-pipe-64x1024.txt
	$(GO) run ./bench -recycled -workload concurrent -conc 128 -size 128 -json $(PERF_OUT)/rec-conc.json | tee $(PERF_OUT)/rec-conc.txt
	$(GO) run ./bench -workload concurrent -conc 128 -size 128 -json $(PERF_OUT)/conc.json | tee $(PERF_OUT)/conc.txt
	$(GO) run ./bench -workload seq-read,random-read -json $(PERF_OUT)/read.json | tee $(PERF_OUT)/read.txt
	$(GO) run ./bench -workload reopen -raw=false -reopen-size 1073741824 -json $(PERF_OUT)/reopen-1g.json | tee $(PERF_OUT)/reopen-1g.txt
	$(GO) run ./bench -workload reopen -raw=false -reopen-size 8589934592 -json $(PERF_OUT)/reopen-8g.json | tee $(PERF_OUT)/reopen-8g.txt
	cd bench/peers && $(GO) run . -rounds 3 -json ../../$(PERF_OUT)/peers.json | tee ../../$(PERF_OUT)/peers.txt
