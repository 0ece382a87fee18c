# The whole stack on this machine: moto plays AWS, the synthesized app is
# deployed into it, the local gateway serves the API (see local/).
DEV_ADDR ?= 127.0.0.1:8080
DEV_WORKERS ?= 2
LOCAL_BIN := $(CURDIR)/.cache/bin

.PHONY: dev loadtest
dev: python build-worker-linux synth ## run the whole stack locally on moto (DEV_ADDR, DEV_WORKERS)
	@mkdir -p $(LOCAL_BIN)
	go build -o $(LOCAL_BIN)/foqus-local ./local/cmd/foqus-local
	$(LOCAL_BIN)/foqus-local -addr $(DEV_ADDR) -workers $(DEV_WORKERS) -stage $(STAGE) -cdk-out $(CURDIR)/cdk.out -worker $(BUILD)/worker/foqus-worker

LOADTEST_RATE ?= 50
LOADTEST_DURATION ?= 20s
loadtest: python build-worker-linux synth ## bounded load test of the local gateway: percentiles, errors, HTML plot
	@mkdir -p $(LOCAL_BIN)
	go build -o $(LOCAL_BIN)/foqus-loadtest ./local/cmd/foqus-loadtest
	$(LOCAL_BIN)/foqus-loadtest -rate $(LOADTEST_RATE) -duration $(LOADTEST_DURATION) -cdk-out $(CURDIR)/cdk.out -worker $(BUILD)/worker/foqus-worker -plot $(CURDIR)/.cache/loadtest/latency.html
