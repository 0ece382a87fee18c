# The whole stack on this machine (filled by the local-stack work).
.PHONY: dev
dev: python ## run the whole stack locally on moto
	@echo "make dev: the local stack is not written yet"
