# The worker AMI of a deployed stage: `make image STAGE=x INSTALLERS=<dir>`
# uploads the worker and the installers of <dir> (ami/README.md lists them)
# with their manifest, runs the stage's image pipeline and prints the AMI id.
INSTALLERS ?=
IMAGE_FLAGS ?=

.PHONY: image
image: build-worker ## bake the worker AMI of STAGE from the installers in INSTALLERS=<dir> (IMAGE_FLAGS: -region, -no-wait, -poll)
	@if [ -z "$(INSTALLERS)" ]; then echo "usage: make image STAGE=<stage> INSTALLERS=<dir> (see ami/README.md)" >&2; exit 2; fi
	@mkdir -p $(LOCAL_BIN)
	go build -o $(LOCAL_BIN)/foqus-image ./cmd/foqus-image
	$(LOCAL_BIN)/foqus-image -stage $(STAGE) -installers $(INSTALLERS) -worker $(BUILD)/worker/foqus-worker.exe $(IMAGE_FLAGS)
