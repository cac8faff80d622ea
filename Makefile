# zkd build and test entry points. `make run` starts a server, `make test`
# runs every test (installing the real ZooKeeper clients the end-to-end
# tests drive when they are missing).

GO       ?= go
BIN      := bin/zkd
PKGS     := ./...
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/zkd/zkd/internal/server.Version=3.8.0-zkd-$(VERSION)

.PHONY: build run test test-unit test-e2e fuzz deps vet clean ensemble install install-bin install-systemd bench-compare

# Install locations. `make install` copies bin/zkd to $(DESTDIR)$(BINDIR);
# with DESTDIR set (staging a package, e.g. DESTDIR=$$(mktemp -d)) it also
# stages the systemd unit and the example /etc/zkd/zoo.cfg. On the running
# system those are installed only when asked: `make install-systemd`. Nothing
# here creates users, reloads systemd or starts services.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= /lib/systemd/system
SYSCONFDIR ?= /etc

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/zkd

run: build
	./$(BIN) server --config conf/zoo.cfg

deps:
	bash scripts/install-test-deps.sh

vet:
	$(GO) vet $(PKGS)

# Unit and integration tests with the race detector; then the black-box
# suites (differential, durability, interop, ensemble, real clients), which
# drive the built binary in separate processes: they run without -race,
# since the detector there would only watch the test clients (and
# go-zookeeper v1.0.4 has a known race of its own in its reconnect path);
# then a short run of every fuzz target.
test: deps build vet
	$(GO) test -race -count=1 -timeout 12m $$($(GO) list ./... | grep -v /test/)
	ZKD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 12m ./test/...
	$(MAKE) fuzz FUZZTIME=5s

test-unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/)

test-e2e: build
	ZKD_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -v ./test/e2e

FUZZTIME ?= 30s
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) bash scripts/fuzz.sh

# zkd against Apache ZooKeeper 3.8 on this machine (docs/bench-compare.md):
# about 25 minutes; `make bench-compare ARGS=--quick` checks the harness in
# a few. Results go to bench/results/compare-<date>.{json,md}.
ARGS ?=
bench-compare: deps build
	$(GO) run ./bench/compare --zkd $(BIN) $(ARGS)

clean:
	rm -rf bin zkd-data ensemble-data ensemble5-data

# A local 3-node ensemble on loopback (conf/ensemble3); Ctrl-C stops it.
ensemble: build
	@for n in 1 2 3; do mkdir -p ensemble-data/$$n && echo $$n > ensemble-data/$$n/myid; done
	@trap 'kill $$(jobs -p) 2>/dev/null' INT TERM EXIT; \
	for n in 1 2 3; do ./$(BIN) server --config conf/ensemble3/zoo$$n.cfg > ensemble-data/$$n.log 2>&1 & done; \
	echo "3-node ensemble on 127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183 (logs in ensemble-data/*.log); Ctrl-C to stop"; \
	wait

install: install-bin
ifneq ($(DESTDIR),)
install: install-systemd
endif

install-bin: build
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/zkd

# The unit's ExecStart follows BINDIR; an existing zoo.cfg is never replaced.
install-systemd:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/zkd
	sed 's#^ExecStart=/usr/local/bin/zkd #ExecStart=$(BINDIR)/zkd #; s#/etc/zkd/zoo.cfg#$(SYSCONFDIR)/zkd/zoo.cfg#' \
	  deploy/systemd/zkd.service > $(DESTDIR)$(UNITDIR)/zkd.service.tmp
	chmod 0644 $(DESTDIR)$(UNITDIR)/zkd.service.tmp
	mv $(DESTDIR)$(UNITDIR)/zkd.service.tmp $(DESTDIR)$(UNITDIR)/zkd.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/zkd/zoo.cfg ]; then \
	  echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/zkd/zoo.cfg"; \
	else \
	  install -m 0644 deploy/systemd/zoo.cfg $(DESTDIR)$(SYSCONFDIR)/zkd/zoo.cfg; \
	fi
