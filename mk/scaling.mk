# The scaling simulator: replays the job traces against GAS's policy and ours
# with a stage's scaling numbers (cdk.json), prints a table per trace and
# writes the plots and results.md to docs/scaling/ (committed, shown in README).
SIM_STAGE ?= prod

.PHONY: scaling-sim
scaling-sim: ## replay the job traces against the scaling policies (SIM_STAGE), plots into docs/scaling/
	go run ./cmd/scaling-sim -cdk-json cdk.json -stage $(SIM_STAGE) -out docs/scaling
