# The two commands a newcomer needs (see README.md):
#   go run ./cmd/quire serve   start the server on its embedded default (./data/quire.db)
#   make test                  everything below
GO       ?= go
FUZZTIME ?= 10s

.PHONY: run test gotest jstest browsertest uicheck fuzz bench compare

run:
	$(GO) run ./cmd/quire serve

# test: Go tests (race detector on), the Node tests against real yjs and
# y-websocket, the browser tests in Chromium, the committed UI bundle
# against its sources, and a short fuzz run of every decoder.
test: gotest jstest browsertest uicheck fuzz

gotest:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

jstest: node_modules/.package-lock.json
	npm test

test/browser/node_modules/.package-lock.json: test/browser/package.json test/browser/package-lock.json
	cd test/browser && npm ci --no-audit --no-fund

browsertest: test/browser/node_modules/.package-lock.json
	cd test/browser && npm test

uicheck:
	scripts/ui-check.sh

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./crdt/

# compare: the trace benchmarks side by side with yjs (docs/benchmarks.md).
compare: node_modules/.package-lock.json
	node bench/compare.mjs --rounds 5
