package api

import (
	"fmt"
	"slices"

	"github.com/foqus-cloud/stack/core/resource"
)

// env is what each function reads from its environment: the CDK app sets
// exactly these (and grants access to what they name), the handler registry
// refuses to build a handler without them. Every function on FOQUS_Resources
// gets the stage's retention too: its store stamps the items' TTL with it.
var env = map[string][]string{
	FnAuthorizer:      {resource.EnvUsersTable},
	FnApplications:    {},
	FnSessionCreate:   {},
	FnSessionList:     {resource.EnvResourcesTable, resource.EnvRetentionDays},
	FnSessionGet:      {resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvSessionBucket},
	FnSessionAppend:   {resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvUsersTable, resource.EnvFreeJobLimit},
	FnSessionStart:    {resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvJobTopicARN, resource.EnvArchiveQueueURL}, // jobs it ends count towards the archive
	FnSessionKill:     {resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvArchiveQueueURL},
	FnSessionStop:     {resource.EnvResourcesTable, resource.EnvRetentionDays},
	FnSessionResult:   {resource.EnvResourcesTable, resource.EnvRetentionDays},
	FnResultPage:      {resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvSessionBucket},
	FnSimulationRoot:  {resource.EnvSimulationBucket},
	FnSimulationGet:   {resource.EnvSimulationBucket},
	FnSimulationPut:   {resource.EnvSimulationBucket},
	FnInputPut:        {resource.EnvSimulationBucket},
	FnInputGet:        {resource.EnvSimulationBucket},
	FnInputSignedURL:  {resource.EnvSimulationBucket},
	FnOpenAPI:         {},
	FnUpdateProcessor: append([]string{resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvArchiveQueueURL}, monitorPush...),
	FnSimulationDel:   {resource.EnvSimulationBucket, resource.EnvResourcesTable, resource.EnvRetentionDays},
	FnConsumerList:    {resource.EnvResourcesTable, resource.EnvRetentionDays},
	FnSessionDelete:   {resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvSessionBucket},

	FnMonitorAuthorizer: {resource.EnvUsersTable},
	FnMonitorConnect:    {resource.EnvConnectionsTable},
	FnMonitorDisconnect: {resource.EnvConnectionsTable},
	FnMonitorStatus:     append([]string{resource.EnvResourcesTable, resource.EnvRetentionDays}, monitorPush...),
	FnMonitorDefault:    {resource.EnvMonitorEndpoint},
	FnArchiver:          append([]string{resource.EnvArchiveQueueURL}, lifecycleEnv...),
	FnThaw:              lifecycleEnv,
}

// lifecycleEnv is what the archiver and thaw both read: the stores and the
// stage's tier settings (core/archive.Settings).
var lifecycleEnv = []string{
	resource.EnvResourcesTable, resource.EnvRetentionDays, resource.EnvUsersTable, resource.EnvSessionBucket, resource.EnvFreeWindow,
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
