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
	FnSessionAppend:   {resource.EnvResourcesTable, resource.EnvUsersTable, resource.EnvFreeJobLimit},
	FnSessionStart:    {resource.EnvResourcesTable, resource.EnvJobTopicARN, resource.EnvArchiveQueueURL}, // jobs it ends count towards the archive
	FnSessionKill:     {resource.EnvResourcesTable, resource.EnvArchiveQueueURL},
	FnSessionStop:     {resource.EnvResourcesTable},
	FnSessionResult:   {resource.EnvResourcesTable},
	FnResultPage:      {resource.EnvResourcesTable, resource.EnvSessionBucket},
	FnSimulationRoot:  {resource.EnvSimulationBucket},
	FnSimulationGet:   {resource.EnvSimulationBucket},
	FnSimulationPut:   {resource.EnvSimulationBucket},
	FnInputPut:        {resource.EnvSimulationBucket},
	FnInputGet:        {resource.EnvSimulationBucket},
	FnInputSignedURL:  {resource.EnvSimulationBucket},
	FnOpenAPI:         {},
	FnUpdateProcessor: append([]string{resource.EnvResourcesTable, resource.EnvArchiveQueueURL}, monitorPush...),
	FnSimulationDel:   {resource.EnvSimulationBucket, resource.EnvResourcesTable},
	FnConsumerList:    {resource.EnvResourcesTable},
	FnSessionDelete:   {resource.EnvResourcesTable, resource.EnvSessionBucket},

	FnMonitorAuthorizer: {resource.EnvUsersTable},
	FnMonitorConnect:    {resource.EnvConnectionsTable},
	FnMonitorDisconnect: {resource.EnvConnectionsTable},
	FnMonitorStatus:     append([]string{resource.EnvResourcesTable}, monitorPush...),
	FnMonitorDefault:    {resource.EnvMonitorEndpoint},
	FnArchiver:          append([]string{resource.EnvArchiveQueueURL}, lifecycleEnv...),
	FnThaw:              lifecycleEnv,
}

// lifecycleEnv is what the archiver and thaw both read: the stores and the
// stage's tier settings (core/archive.Settings).
var lifecycleEnv = []string{
	resource.EnvResourcesTable, resource.EnvUsersTable, resource.EnvSessionBucket, resource.EnvFreeWindow,
	resource.EnvArchiveClass, resource.EnvRestoreTier, resource.EnvFreeJobLimit, resource.EnvSender,
}

// monitorPush is what a function that sends monitor messages reads: the
// connections, the Management API and the job queue (its attributes).
var monitorPush = []string{resource.EnvConnectionsTable, resource.EnvMonitorEndpoint, resource.EnvJobQueueURL}

// Env lists the environment variables (resource.Env*) function name reads,
// besides resource.EnvStage, which every function gets.
func Env(name string) ([]string, error) {
	vars, ok := env[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	return slices.Clone(vars), nil
}
