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

LOADTEST_SCENARIO ?= web
LOADTEST_RATE ?= 50
LOADTEST_DURATION ?= 60s
LOADTEST_USERS ?= 300
LOADTEST_SPAWN_RATE ?= 30
LOADTEST_SESSIONS ?= 3000
LOADTEST_FLAGS ?=
loadtest: python build-worker-linux synth ## bounded load test (LOADTEST_SCENARIO=web: GAS's 300 users at 30/s in FOQUS session loops; poll: fixed rate); HTML report
	@mkdir -p $(LOCAL_BIN)
	go build -o $(LOCAL_BIN)/foqus-loadtest ./local/cmd/foqus-loadtest
	$(LOCAL_BIN)/foqus-loadtest -scenario $(LOADTEST_SCENARIO) -rate $(LOADTEST_RATE) -duration $(LOADTEST_DURATION) \
	  -users $(LOADTEST_USERS) -spawn-rate $(LOADTEST_SPAWN_RATE) -sessions $(LOADTEST_SESSIONS) \
	  -cdk-out $(CURDIR)/cdk.out -worker $(BUILD)/worker/foqus-worker -report $(CURDIR)/.cache/loadtest/$(LOADTEST_SCENARIO).html $(LOADTEST_FLAGS)
