# autopathlab — see README.md.
GO       ?= go
FUZZTIME ?= 20000x
BENCHTIME ?= 1s

IMAGE    ?= autopathlab:dev

.PHONY: lab test unit e2e fuzz fuzz-short bench vet images

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
# (OpenSSH with sshpass, python3-paramiko), and the docker-compose lab
# (e2e/compose_test.go: skipped, loudly, when the Docker daemon does not
# answer).
e2e:
	$(GO) test -race -count=1 -v ./e2e/...

# The docker-compose lab's image (deploy/Dockerfile): static binaries
# FROM scratch — esxisim (cvmsim is a link to it: one program), lab,
# genesis, labctl — with the example topologies. IMAGE=name:tag names it
# otherwise.
images:
	@set -e; ctx=$$(mktemp -d); trap 'rm -rf "$$ctx"' EXIT; t0=$$(date +%s%N); \
	for c in esxisim lab genesis labctl; do \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o "$$ctx/bin/$$c" ./cmd/$$c; \
	done; \
	ln -s esxisim "$$ctx/bin/cvmsim"; \
	mkdir -p "$$ctx/etc" && cp examples/topologies/*.yaml "$$ctx/etc/"; \
	t1=$$(date +%s%N); \
	out=$$(DOCKER_BUILDKIT=0 docker build -q -f deploy/Dockerfile -t $(IMAGE) "$$ctx" 2>&1) || { echo "$$out" >&2; exit 1; }; \
	t2=$$(date +%s%N); \
	echo "$(IMAGE): $$(docker image inspect -f '{{.Size}}' $(IMAGE) | awk '{printf "%.1f MB", $$1/1e6}'), binaries in $$(( (t1 - t0) / 1000000 )) ms, docker build in $$(( (t2 - t1) / 1000000 )) ms"

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	./scripts/bench.sh
