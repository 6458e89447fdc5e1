# gotransformers — common tasks. `make test` is what CI runs.
SHARED ?= ../shared
GO ?= go

.PHONY: all build test test-purego fixtures bench lint fuzz parity

all: build test

build:
	CGO_ENABLED=0 $(GO) build ./...

# fixtures copies the reference fixtures from ../shared/parity into parity/testdata (committed, so a
# fresh clone stands alone). Expected values are never edited.
fixtures:
	rm -rf parity/testdata
	mkdir -p parity/testdata
	cp -R $(SHARED)/parity/. parity/testdata/
	chmod -R u+w parity/testdata

test:
	CGO_ENABLED=0 $(GO) test ./...

test-purego:
	CGO_ENABLED=0 $(GO) test -tags purego ./...
	CGO_ENABLED=0 $(GO) test -tags noavx512 ./transformers/tensor/...

parity:
	$(GO) run ./cmd/parity parity/testdata

bench:
	$(GO) run ./cmd/bench gemm

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

# fuzz runs every fuzz target of the module for FUZZTIME each (default 10m), FUZZJOBS at once
# (default: the CPUs), logs and crashers in a temporary folder (scripts/fuzz.sh; docs/security.md).
fuzz:
	bash scripts/fuzz.sh -d $(or $(FUZZTIME),10m) $(if $(FUZZJOBS),-j $(FUZZJOBS))
