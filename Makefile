# Strata. `make run` starts the local all-in-one server; `make test` runs every test;
# `make check` is the fast loop.
#
# Everything needed is fetched by the go command through the module proxy; the Bigtable and
# Pub/Sub emulators and terraform ship with the machine image.
GO           ?= go
TEST_TIMEOUT ?= 40m
export TF_CLI_CONFIG_FILE ?= /dev/null

# The emulator binaries the tests start (backendtest.Emulator): the machine image's copies
# when present; empty, the tests look the binary up on PATH.
export CBT_EMULATOR_BIN    ?= $(wildcard /usr/lib/google-cloud-sdk/platform/bigtable-emulator/cbtemulator)
export PUBSUB_EMULATOR_BIN ?= $(wildcard /usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator)

.PHONY: all build run check gofmt vet test test-unit test-race lint tf-fmt cover bench soak soak-sim conn-report e2e routes monitoring package deploy destroy tf-check tf-validate clean

all: build

build:
	$(GO) build -o bin/strata ./functions/cmd/strata

## run: the whole system on 127.0.0.1:8888 over embedded durable storage in ./data.
run: build
	STRATA_AUTH_ENFORCE=$${STRATA_AUTH_ENFORCE:-false} ./bin/strata serve

## check: the fast loop (under a minute with a warm build cache): gofmt, go vet, and the unit
## tests and conformance suites on the in-process fakes (go test -short). Under -short the
## tests that start emulators, run terraform or build the function zip skip, and so does the
## e2e topology; make test runs them all.
check: gofmt vet
	$(GO) test -short -timeout 5m ./tiered/... ./functions/...

## test: lint, every test (unit, conformance on fakes and real emulators, e2e), and the race
## detector on the concurrency packages.
test: lint test-unit test-race

test-unit:
	$(GO) test -timeout $(TEST_TIMEOUT) -count=1 ./...

test-race:
	$(GO) test -timeout $(TEST_TIMEOUT) -count=1 -race ./tiered/... \
		./functions/internal/admission/ ./functions/internal/cleanup/ ./functions/client/ \
		./functions/internal/telemetry/ ./functions/internal/logging/

lint: tf-fmt gofmt vet

gofmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

tf-fmt:
	terraform fmt -check -recursive terraform

cover:
	$(GO) test -count=1 -coverprofile=cover.out ./tiered/...
	$(GO) tool cover -func=cover.out | tail -n 1

## e2e: the end-to-end suites alone (they also run in make test).
e2e:
	$(GO) test -timeout $(TEST_TIMEOUT) -count=1 -v ./e2e/...

## bench: benchmarks with ratios against floors measured in the same run.
bench:
	./scripts/bench.sh

## soak: the reliability suite with longer bounds, after the simulator's long run.
soak: soak-sim
	STRATA_SOAK=1 $(GO) test -timeout 60m -count=1 -run 'Reliability|Linearizab|Crash|Fault|Load' -v ./e2e/...

## conn-report: the security review's connection flood against strata serve, measured (~75 s).
conn-report:
	$(GO) test -timeout 5m -count=1 -run '^$$' -bench 'BenchmarkReport_ConnectionFlood' -benchtime=1x -v ./e2e/local/

## soak-sim: the deterministic simulator (tiered/sim_test.go) over a million seeds.
soak-sim:
	$(GO) test -count=1 -timeout 60m -run 'TestSimulation$$' ./tiered -sim.seeds=1000000 -v

routes:
	$(GO) test ./functions/internal/httpapi -run TestRoutesFileUpToDate -count=1 -update

## monitoring: regenerate terraform/modules/monitoring's metrics.json and dashboard.json.tftpl
## from the metric catalog (tiered/observe/catalog.go).
monitoring:
	$(GO) test ./functions/internal/deploy -run TestTerraform_MonitoringFilesUpToDate -count=1 -update

package:
	./scripts/package.sh

deploy:
	./scripts/deploy.sh

destroy:
	./scripts/destroy.sh

tf-check: tf-fmt
	$(GO) test -count=1 ./functions/internal/deploy/ -run 'Terraform|Routing|Environments'

## tf-validate: terraform validate + plan of dev and prod with the real google provider from
## the filesystem mirror ($$HOME/.cache/strata/tfmirror; scripts/tf-validate.sh says how to
## build it when missing, and fails). Not part of make test.
tf-validate:
	./scripts/tf-validate.sh

clean:
	rm -rf bin dist bench-results cover.out
