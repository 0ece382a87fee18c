# CDK app targets (filled by the infra work).
.PHONY: synth deploy
synth: ## synthesize the CDK app for STAGE into cdk.out/
	@echo "synth for stage $(STAGE): the CDK app in infra/ is not written yet"
deploy: ## deploy STAGE with the pinned aws-cdk CLI
	@echo "deploy for stage $(STAGE): the CDK app in infra/ is not written yet"
