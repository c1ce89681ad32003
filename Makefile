# The two commands a newcomer needs:
#   make run    start the server on its embedded default (./data/quire.db)
#   make test   everything: Go tests (race detector on), the Node tests
#               against real yjs, and short fuzz runs of every decoder
GO      ?= go
FUZZTIME ?= 10s

.PHONY: run test gotest jstest fuzz bench node_modules

run:
	$(GO) run ./cmd/quire serve

test: gotest jstest fuzz

gotest:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

node_modules: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

jstest: node_modules
	npm test

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./crdt/
