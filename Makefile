# autopathlab — see README.md.
GO       ?= go
FUZZTIME ?= 20000x
BENCHTIME ?= 1s

.PHONY: lab test unit e2e fuzz fuzz-short bench vet

# Run the default lab (three ESXi hosts, three CVMs) until Ctrl-C.
lab:
	$(GO) run ./cmd/lab

# Everything CI runs: vet, unit and end-to-end tests under the race
# detector, and a short run of every fuzz target.
test: vet
	$(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=5000x

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l . ; echo "gofmt needed"; exit 1; }

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

# End-to-end tests: the built lab binary driven by real clients
# (OpenSSH with sshpass, python3-paramiko).
e2e:
	$(GO) test -race -count=1 -v ./e2e/...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	./scripts/bench.sh
