package scaling

import (
	"encoding/json"
	"fmt"
	"os"
)

// StageFile reads one stage's scaling parameters from a cdk.json: the
// stage's minWorkers, maxWorkers and "scaling" overrides (the CDK app reads
// the same fields through infra/config, which also validates the rest).
func StageFile(path, stage string) (Params, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Params{}, err
	}
	var f struct {
		Context struct {
			Stages map[string]struct {
				MinWorkers int       `json:"minWorkers"`
				MaxWorkers int       `json:"maxWorkers"`
				Scaling    Overrides `json:"scaling"`
			} `json:"stages"`
		} `json:"context"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Params{}, fmt.Errorf("%s: %w", path, err)
	}
	st, ok := f.Context.Stages[stage]
	if !ok {
		return Params{}, fmt.Errorf("stage %q is not in %s context.stages", stage, path)
	}
	p, err := st.Scaling.Resolve(st.MinWorkers, st.MaxWorkers)
	if err != nil {
		return Params{}, fmt.Errorf("stage %q scaling: %w", stage, err)
	}
	return p, nil
}
