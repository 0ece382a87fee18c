# Lambda bootstraps (provided.al2023, arm64) and the worker binaries.
FUNCTION_CMDS := $(notdir $(wildcard functions/cmd/*))
FUNCTION_BIN := $(BUILD)/functions/.bin

.PHONY: build-functions build-worker build-worker-linux
build-functions:
	@mkdir -p $(FUNCTION_BIN)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(FUNCTION_BIN)/ ./functions/cmd/...
	@# A bootstrap is replaced only when it changed: its time stamp tells synth whether to run.
	@for fn in $(FUNCTION_CMDS); do mkdir -p $(BUILD)/functions/$$fn; \
	  cmp -s $(FUNCTION_BIN)/$$fn $(BUILD)/functions/$$fn/bootstrap || cp $(FUNCTION_BIN)/$$fn $(BUILD)/functions/$$fn/bootstrap; done
	@echo "built $(words $(FUNCTION_CMDS)) function bootstraps into $(BUILD)/functions"

build-worker-linux: # what the local stack runs
	@mkdir -p $(BUILD)/worker
	CGO_ENABLED=0 go build -trimpath -o $(BUILD)/worker/foqus-worker ./worker/cmd/foqus-worker

build-worker: build-worker-linux # and what the Windows image installs
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -o $(BUILD)/worker/foqus-worker.exe ./worker/cmd/foqus-worker
