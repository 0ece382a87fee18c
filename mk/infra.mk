# CDK app targets. `make synth STAGE=x` runs the prebuilt app binary (CDK_OUTDIR
# -> cdk.out/); `make deploy STAGE=x` deploys that assembly with the pinned
# aws-cdk CLI, installed from npm under .tools/ (a dot folder: Go tooling skips
# it, so the CLI's *.template.go files cannot break `go vet ./...`).
CDK_CLI_VERSION := 2.1148.1
CDK_CLI_DIR := $(TOOLS)/cdkcli
CDK := $(CDK_CLI_DIR)/node_modules/.bin/cdk
CDK_APP := $(CURDIR)/.cache/bin/foqus-cdk
CDK_OUT := $(CURDIR)/cdk.out
CDK_DEPLOY_FLAGS ?= --require-approval broadening

.PHONY: synth deploy diff cdk-cli cdk-bootstrap cdk-app
synth: build-functions ## synthesize the CDK app for STAGE into cdk.out/ (again only when an input changed)
	@$(MAKE) --no-print-directory $(CDK_OUT)/.synth-$(STAGE)

# The app's inputs: its sources, the contract it imports, the image documents,
# cdk.json and the bootstraps (build-functions leaves unchanged ones untouched).
SYNTH_INPUTS = $(shell git ls-files infra core ami cdk.json go.mod go.sum go.work 2>/dev/null) $(wildcard $(BUILD)/functions/*/bootstrap)
$(CDK_OUT)/.synth-%: $(SYNTH_INPUTS)
	@mkdir -p $(dir $(CDK_APP))
	go build -o $(CDK_APP) ./infra
	@rm -rf $(CDK_OUT)
	@# JSII_DEPRECATED=quiet: aws-cdk-lib's own step scaling reads a deprecated prop.
	CDK_OUTDIR=$(CDK_OUT) CDK_CONTEXT_JSON='{"stage":"$*"}' FOQUS_BUILD_DIR=$(BUILD) JSII_DEPRECATED=quiet $(CDK_APP)
	@touch $@

$(CDK):
	@mkdir -p $(CDK_CLI_DIR)
	npm install --prefix $(CDK_CLI_DIR) --no-audit --no-fund --save-exact aws-cdk@$(CDK_CLI_VERSION)

cdk-cli: $(CDK) ## install the pinned aws-cdk CLI into .tools/cdkcli
	@$(CDK) --version

cdk-bootstrap: synth $(CDK) ## once per account/region: the CDK bootstrap stack deploy needs
	$(CDK) bootstrap --app $(CDK_OUT)

# What cdk.json's "app" runs for `npx cdk deploy|synth` (the CLI sets
# CDK_OUTDIR and CDK_CONTEXT_JSON): the function bootstraps first, so a fresh
# clone synthesizes; make's output goes to stderr, the CLI owns stdout.
cdk-app:
	@$(MAKE) --no-print-directory build-functions >&2
	@mkdir -p $(dir $(CDK_APP))
	@go build -o $(CDK_APP) ./infra >&2
	@FOQUS_BUILD_DIR=$(BUILD) JSII_DEPRECATED=quiet $(CDK_APP)

deploy: synth $(CDK) ## deploy STAGE with the pinned aws-cdk CLI
	$(CDK) deploy --app $(CDK_OUT) --all $(CDK_DEPLOY_FLAGS)

# --no-change-set: read the deployed template (the CDK lookup role is enough)
# instead of creating a change set (which needs the deploy role).
diff: synth $(CDK) ## show what deploying STAGE would change (AWS credentials of the stage)
	$(CDK) diff --app $(CDK_OUT) --all --no-change-set
