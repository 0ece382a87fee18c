// Package resource names every AWS resource of the stack and the environment
// variables that carry those names to functions and workers. The CDK app, the
// functions, the worker and the local stack all read these, so a rename is one edit.
package resource

import "fmt"

// Base names of the stateful resources; Name appends the stage.
const (
	UsersTable       = "TurbineUsers"
	ResourcesTable   = "FOQUS_Resources"
	SessionBucket    = "foqus-sessions"
	SimulationBkt    = "foqus-simulations"
	JobTopic         = "FOQUS-Job-Topic"
	UpdateTopic      = "FOQUS-Update-Topic"
	AlertTopic       = "FOQUS-Alert-Topic"
	JobQueue         = "FOQUS-Job-Queue"
	UpdateQueue      = "FOQUS-Update-Queue"
	JobDLQ           = "FOQUS-Job-DLQ"
	UpdateDLQ        = "FOQUS-Update-DLQ"
	RestAPI          = "Turbine Gateway API2"
	WorkerConfigSSM  = "/foqus/%s/worker/config" // SSM parameter holding the worker's JSON config, per stage
	WorkerAMISSM     = "/foqus/%s/worker/ami"    // SSM parameter with the image pipeline's latest AMI id
	WorkerGroup      = "FOQUS-Workers"           // Auto Scaling group of the Windows workers
	WorkerDrainHook  = "FOQUS-Worker-Drain"      // its termination lifecycle hook: the worker completes it once idle
	WorkerLaunchHook = "FOQUS-Worker-Launch"     // its launch lifecycle hook: the worker completes it once its service runs
	AccessLogBucket  = "foqus-access-logs"       // S3 server access logs of the data buckets
	ArtifactsBucket  = "foqus-artifacts"         // installers and the worker binary the image pipeline reads (ami/README.md)
	ConnectionsTable = "FOQUS-Connections"       // the Cloud monitor's WebSocket connections, by user
	MonitorAPI       = "FOQUS Cloud Monitor"     // the WebSocket API FOQUS's Cloud monitor connects to
)

// Key schema of the connections table: the user's partition holds its
// connections, so a push is one Query; items expire (TTL) after API Gateway's
// longest connection.
const (
	ConnUserKey = "User"
	ConnIDKey   = "ConnectionId"
)

// BucketName is the globally unique name of a bucket: base, stage, account and
// region (the CDK app passes the account and region of the stack).
func BucketName(base, stage, account, region string) string {
	return fmt.Sprintf("%s-%s-%s-%s", base, stage, account, region)
}

// Worker telemetry and identity. The worker publishes Heartbeat (value 1,
// dimension Stage) every minute while running; an alarm fires when in-service
// instances stay silent. TagStage is an EC2 instance tag, readable through the
// instance metadata service, that tells a worker which stage's config to load.
const (
	WorkerMetricNamespace = "FOQUS/Worker"
	WorkerHeartbeatMetric = "Heartbeat"
	WorkerStageDimension  = "Stage"
	TagStage              = "FOQUS-Stage"
)

// Name returns base with the stage suffix, as every deployed resource is named.
func Name(base, stage string) string { return fmt.Sprintf("%s-%s", base, stage) }

// Environment variables that hand resource names to functions, workers and tools.
const (
	EnvStage            = "FOQUS_STAGE"
	EnvUsersTable       = "FOQUS_USERS_TABLE"
	EnvResourcesTable   = "FOQUS_RESOURCES_TABLE"
	EnvSessionBucket    = "FOQUS_SESSION_BUCKET"
	EnvSimulationBucket = "FOQUS_SIMULATION_BUCKET"
	EnvJobTopicARN      = "FOQUS_JOB_TOPIC_ARN"
	EnvUpdateTopicARN   = "FOQUS_UPDATE_TOPIC_ARN"
	EnvJobQueueURL      = "FOQUS_JOB_QUEUE_URL"
	EnvUpdateQueueURL   = "FOQUS_UPDATE_QUEUE_URL"
	EnvArchiveQueueURL  = "FOQUS_ARCHIVE_QUEUE_URL"
	EnvThawQueueURL     = "FOQUS_THAW_QUEUE_URL"
	// EnvRetentionDays is the stage's dataExpirationDays: FOQUS_Resources items
	// expire (TTL) this many days after their last change, as the session
	// bucket's objects do by its lifecycle rule.
	EnvRetentionDays = "FOQUS_RETENTION_DAYS"
)

// Result lifecycle (free and premium tiers): its queues, and the stage's tier
// settings as the functions read them (core/archive.Settings).
const (
	ArchiveQueue = "FOQUS-Archive-Queue" // session-finished notices, re-enqueued until due for archive
	ArchiveDLQ   = "FOQUS-Archive-DLQ"
	ThawQueue    = "FOQUS-Thaw-Queue" // the session bucket's ObjectRestore:Completed events
	ThawDLQ      = "FOQUS-Thaw-DLQ"

	EnvFreeWindow       = "FOQUS_FREE_WINDOW_SECONDS" // how long a free user's results stay live
	EnvArchiveClass     = "FOQUS_ARCHIVE_STORAGE_CLASS"
	EnvRestoreTier      = "FOQUS_RESTORE_TIER"
	EnvFreeJobLimit     = "FOQUS_FREE_JOB_LIMIT" // jobs per session on the free tier
	EnvSender           = "FOQUS_NOTIFY_SENDER"  // SES identity notifications are sent from
	EnvConnectionsTable = "FOQUS_CONNECTIONS_TABLE"
	EnvMonitorEndpoint  = "FOQUS_MONITOR_ENDPOINT" // https://<api>.execute-api.<region>.amazonaws.com/<stage>: the Management API
	// EnvFleetSource set to FleetFromHeartbeats describes the fleet from the
	// workers' heartbeats instead of Auto Scaling and EC2 (the local stack).
	EnvFleetSource      = "FOQUS_FLEET_SOURCE"
	FleetFromHeartbeats = "heartbeats"
)

// Key schema of the tables. FOQUS_Resources is a single table whose partition
// key groups each user's data (see core/sessionstore for the item layouts). Two
// sparse local secondary indexes order a session's jobs: PendingIndex holds the
// jobs appended but not yet confirmed on the queue (what start publishes),
// FinishedIndex the finished jobs in finishing order (what result pages hold).
const (
	UsersKey      = "Username"
	PK            = "PK"
	SK            = "SK"
	PendingIndex  = "ByPending"
	PendingSeq    = "Pending"
	FinishedIndex = "ByFinish"
	FinishedSeq   = "FSeq"
	TTLAttribute  = "TTL"
)

// Message attributes set on every SNS/SQS message; subscriptions filter on Event.
const (
	AttrEvent       = "event"
	AttrUser        = "username"
	AttrSession     = "session"
	AttrJob         = "job"
	AttrApplication = "application"
	AttrVersion     = "version"

	EventJobSubmit = "job.submit" // the only event value the job queue's subscription lets through
)

// WorkerConfig is what a worker needs to find the stack. On EC2 the CDK app
// writes it as JSON to the SSM parameter WorkerConfigSSM; locally it comes from
// flags or the environment variables above.
type WorkerConfig struct {
	Stage            string `json:"stage"`
	Region           string `json:"region"`
	JobQueueURL      string `json:"jobQueueUrl"`
	UpdateTopicARN   string `json:"updateTopicArn"`
	ResourcesTable   string `json:"resourcesTable"`
	SessionBucket    string `json:"sessionBucket"`
	SimulationBucket string `json:"simulationBucket"`
	RetentionDays    int    `json:"retentionDays"`    // the stage's dataExpirationDays (EnvRetentionDays)
	DrainHookSeconds int    `json:"drainHookSeconds"` // the drain hook's heartbeat timeout (core/scaling's DrainTimeoutSeconds)
}
