package api

import (
	"fmt"
	"slices"

	"github.com/foqus-cloud/stack/core/resource"
)

// env is what each function reads from its environment: the CDK app sets
// exactly these (and grants access to what they name), the handler registry
// refuses to build a handler without them.
var env = map[string][]string{
	FnAuthorizer:      {resource.EnvUsersTable},
	FnApplications:    {},
	FnSessionCreate:   {},
	FnSessionList:     {resource.EnvResourcesTable},
	FnSessionGet:      {resource.EnvResourcesTable, resource.EnvSessionBucket},
	FnSessionAppend:   {resource.EnvResourcesTable},
	FnSessionStart:    {resource.EnvResourcesTable, resource.EnvJobTopicARN},
	FnSessionKill:     {resource.EnvResourcesTable},
	FnSessionStop:     {resource.EnvResourcesTable},
	FnSessionResult:   {resource.EnvResourcesTable},
	FnResultPage:      {resource.EnvResourcesTable, resource.EnvSessionBucket},
	FnSimulationRoot:  {resource.EnvSimulationBucket},
	FnSimulationGet:   {resource.EnvSimulationBucket},
	FnSimulationPut:   {resource.EnvSimulationBucket},
	FnInputPut:        {resource.EnvSimulationBucket},
	FnInputGet:        {resource.EnvSimulationBucket},
	FnInputSignedURL:  {resource.EnvSimulationBucket},
	FnUpdateProcessor: {resource.EnvResourcesTable},
	FnSimulationDel:   {resource.EnvSimulationBucket, resource.EnvResourcesTable},
	FnConsumerList:    {resource.EnvResourcesTable},
	FnSessionDelete:   {resource.EnvResourcesTable, resource.EnvSessionBucket},
}

// Env lists the environment variables (resource.Env*) function name reads,
// besides resource.EnvStage, which every function gets.
func Env(name string) ([]string, error) {
	vars, ok := env[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	return slices.Clone(vars), nil
}
