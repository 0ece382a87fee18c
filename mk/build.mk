# Lambda bootstraps (provided.al2023, arm64) and the worker binaries.
FUNCTION_CMDS := $(notdir $(wildcard functions/cmd/*))

.PHONY: build-functions build-worker
build-functions:
	@for fn in $(FUNCTION_CMDS); do \
	  mkdir -p $(BUILD)/functions/$$fn && \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags='-s -w' \
	    -o $(BUILD)/functions/$$fn/bootstrap ./functions/cmd/$$fn || exit 1; done
	@echo "built $(words $(FUNCTION_CMDS)) function bootstraps into $(BUILD)/functions"

build-worker:
	@if [ -d worker/cmd/foqus-worker ]; then \
	  mkdir -p $(BUILD)/worker && \
	  CGO_ENABLED=0 go build -trimpath -o $(BUILD)/worker/foqus-worker ./worker/cmd/foqus-worker && \
	  CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -o $(BUILD)/worker/foqus-worker.exe ./worker/cmd/foqus-worker && \
	  echo "built $(BUILD)/worker/foqus-worker and foqus-worker.exe"; \
	else echo "worker not written yet"; fi
