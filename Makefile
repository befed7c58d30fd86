# cairn — make run starts the server, make test runs every test.

# pipefail: a failing test piped through grep still fails the target.
SHELL       := bash
.SHELLFLAGS := -o pipefail -c

GO        ?= go
TOOLS_DIR ?= $(HOME)/.cache/cairn-tools
TOOLS_BIN := $(TOOLS_DIR)/bin
export PATH := $(TOOLS_BIN):$(PATH)

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS  := -X main.version=$(VERSION) -X main.revision=$(REVISION)

# Real clients the tests drive, pinned, installed outside the module.
ORAS        := oras.land/oras/cmd/oras@v1.3.6
REGCTL      := github.com/regclient/regclient/cmd/regctl@v0.11.7
CRANE       := github.com/google/go-containerregistry/cmd/crane@v0.22.1
COSIGN      := github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
CONFORMANCE := github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
HELM        := helm.sh/helm/v3/cmd/helm@v3.22.0
TEST_TOOLS  := $(ORAS) $(REGCTL) $(CRANE) $(COSIGN) $(CONFORMANCE) $(HELM)
LINT_TOOLS  := $(STATICCHECK) $(GOVULNCHECK)

# One stamp per pinned tool, so a version bump reinstalls it. The stamp's
# name is the module path with / spelt _ (no pinned path has a _ of its own).
stamp = $(TOOLS_DIR)/stamps/$(subst /,_,$(1))

TEST_TIMEOUT ?= 14m

.PHONY: all build run test test-short lint staticcheck vulncheck fmt vet tools lint-tools conformance bench bench-e2e image clean

all: fmt vet lint test

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cairn ./cmd/cairn

run: build
	./bin/cairn serve

# A linux/amd64 + linux/arm64 OCI image in bin/image, assembled without
# Docker. IMAGE=host:5000/cairn:dev also pushes it (IMAGE_INSECURE=1 for a
# plain-HTTP registry).
image:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-amd64/cairn ./cmd/cairn
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux-arm64/cairn ./cmd/cairn
	rm -rf bin/image
	$(GO) run ./tools/mkimage --version '$(VERSION)' --revision '$(REVISION)' \
		--binary linux/amd64=bin/linux-amd64/cairn --binary linux/arm64=bin/linux-arm64/cairn \
		--oci-layout bin/image $(if $(IMAGE),--push '$(IMAGE)') $(if $(IMAGE_INSECURE),--insecure)

test: build tools
	CAIRN_BIN=$(CURDIR)/bin/cairn $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

# Unit tests only, on a machine with nothing installed: no server binary, no
# clients (e2e skips itself under -short), and the PostgreSQL store tests
# run only if a server is reachable (make test needs one).
test-short:
	CAIRN_SKIP_POSTGRES=1 $(GO) test -short -count=1 ./...

conformance: build tools
	CAIRN_BIN=$(CURDIR)/bin/cairn $(GO) test -count=1 -timeout 10m -run '^TestConformance$$' -v ./e2e/ | grep -E '^(=== RUN|--- |\s+conformance|ok|FAIL|PASS)'

bench:
	$(GO) test -run '^$$' -bench . -benchtime 5x ./facade/

# The engine against zot with real oras, side by side: needs ZOT_BIN (a zot
# binary built outside this tree); ROUNDS rounds, best of them.
ROUNDS ?= 5
bench-e2e: build tools
	CAIRN_BIN=$(CURDIR)/bin/cairn $(GO) test -run '^$$' -bench EngineVsZot -benchtime $(ROUNDS)x -timeout 60m ./e2e/

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint: staticcheck vulncheck

staticcheck: lint-tools
	staticcheck ./...

# govulncheck reads the Go vulnerability database over the network.
vulncheck: lint-tools
	govulncheck ./...

tools: $(foreach t,$(TEST_TOOLS),$(call stamp,$(t)))
lint-tools: $(foreach t,$(LINT_TOOLS),$(call stamp,$(t)))

$(TOOLS_DIR)/stamps/%:
	@mkdir -p $(TOOLS_BIN) $(dir $@)
	GOBIN=$(TOOLS_BIN) $(GO) install $(subst _,/,$*)
	@touch $@

clean:
	rm -rf bin
