package registry

import (
	"maps"
	"strings"

	"github.com/foqus-cloud/stack/core/api"
)

// The AWS actions each function's code calls, with where, for the handler
// this package builds for it: the CDK app grants its role exactly these
// (infra/stacks tests the template against this table, and the local stack's
// tests check every request a function sends against it). Lambda's own
// needs (its log group, X-Ray) and what an SQS event source mapping calls
// for the function are the CDK app's to list, with their reasons.
var IAMActions = map[string]map[string]string{
	api.FnAuthorizer:     {"dynamodb:GetItem": "core/user.Store.Authenticate (the user's item)"},
	api.FnApplications:   {},
	api.FnSessionCreate:  {},
	api.FnOpenAPI:        {},
	api.FnSessionList:    resourcesRead,
	api.FnConsumerList:   resourcesRead,
	api.FnSessionGet:     with(resourcesRead, map[string]string{"s3:GetObject": "functions/jobview.Loader (job outputs)"}),
	api.FnResultPage:     with(resourcesRead, map[string]string{"s3:GetObject": "functions/jobview.Loader (job outputs)"}),
	api.FnSessionAppend:  resourcesWrite,
	api.FnSessionKill:    with(resourcesWrite, archiveNotice),
	api.FnSessionStop:    resourcesWrite,
	api.FnSessionResult:  resourcesWrite,
	api.FnSessionStart:   with(resourcesWrite, publish("job"), archiveNotice),
	api.FnSimulationRoot: simulationsRead,
	api.FnSimulationGet:  simulationsRead,
	api.FnInputGet:       simulationsRead,
	api.FnSimulationPut:  simulationsWrite,
	api.FnInputPut:       simulationsWrite,
	api.FnInputSignedURL: with(simulationsWrite, map[string]string{"s3:PutObject": "functions/simulations presigned PUT (the URL carries the signer's rights)"}),
	api.FnSimulationDel: with(simulationsRead, resourcesRead, map[string]string{
		"s3:DeleteObject": "functions/simulations/delete.go DeleteObjects of the simulation's prefix",
	}),
	api.FnSessionDelete: with(resourcesWrite, map[string]string{
		"dynamodb:DeleteItem": "core/sessionstore.DeleteSession (conditional delete)",
		"s3:GetObject":        "functions/jobview.Loader (job outputs)",
		"s3:ListBucket":       "functions/sessions/delete.go ListObjectsV2 of the session's outputs",
		"s3:DeleteObject":     "functions/sessions/delete.go DeleteObjects of the session's outputs",
	}),
	api.FnUpdateProcessor: with(resourcesWrite, monitorPush, map[string]string{
		"dynamodb:DeleteItem": "core/connections.Store.Forget (a gone connection)",
		"sqs:SendMessage":     "core/archive.Tracker (a finished session's archive notice)",
	}),
	api.FnMonitorAuthorizer: {"dynamodb:GetItem": "core/user.Store.Authenticate (the user's item)"},
	api.FnMonitorConnect:    {"dynamodb:PutItem": "core/connections.Store.Add"},
	api.FnMonitorDisconnect: {"dynamodb:DeleteItem": "core/connections.Store.Forget"},
	api.FnMonitorDefault:    {"execute-api:ManageConnections": "functions/monitor.Sender PostToConnection (the answer)"},
	api.FnMonitorStatus: with(resourcesRead, monitorPush, map[string]string{
		"dynamodb:DeleteItem": "core/connections.Store.Forget (a gone connection)",
	}),
	api.FnArchiver: with(resourcesWrite, lifecycleObjects, map[string]string{
		"dynamodb:ConditionCheckItem": "core/sessionstore archive mark: holds only while the user is free (transaction condition)",
		"sqs:SendMessage":             "functions/archiver (notices re-enqueued until due, restore watches sent on)",
		"s3:RestoreObject":            "core/archive.WatchRestore (a restore S3 has no record of is asked for again)",
		"s3:ListBucket":               "core/archive sweep: ListObjectsV2 of the session's archive prefix (stray archives deleted)",
		"ses:SendEmail":               "functions/notify (the archive and restore notices)",
	}),
	api.FnThaw: with(resourcesWrite, lifecycleObjects, map[string]string{
		"ses:SendEmail": "functions/notify (the restore notice)",
	}),
}

// Shared rows of the table.
var (
	// The functions that end jobs count them towards their session's completion.
	archiveNotice = map[string]string{"sqs:SendMessage": "core/archive.Tracker (a finished session's archive notice)"}
	resourcesRead = map[string]string{
		"dynamodb:GetItem": "core/sessionstore reads (session, job, cursor items)",
		"dynamodb:Query":   "core/sessionstore lists (a user's sessions, a session's jobs)",
	}
	resourcesWrite = with(resourcesRead, map[string]string{
		"dynamodb:PutItem":        "core/sessionstore (new items, result cursors)",
		"dynamodb:UpdateItem":     "core/sessionstore conditional transitions",
		"dynamodb:BatchWriteItem": "core/sessionstore.Append (jobs in batches of 25)",
	})
	simulationsRead = map[string]string{
		"s3:GetObject":  "functions/simulations (the staged files)",
		"s3:ListBucket": "functions/simulations ListObjectsV2 of a simulation's prefix",
	}
	simulationsWrite = with(simulationsRead, map[string]string{"s3:PutObject": "functions/simulations (uploads)"})
	lifecycleObjects = map[string]string{
		"dynamodb:GetItem": "core/user.Store (the user's tier)",
		"s3:GetObject":     "core/archive (outputs read, archives verified)",
		"s3:PutObject":     "core/archive (the archive, re-homed outputs)",
		"s3:DeleteObject":  "core/archive (live outputs dropped, the archive deleted after a thaw)",
	}
	monitorPush = map[string]string{
		"dynamodb:Query":                        "core/connections.Store (the user's connections)",
		"dynamodb:Scan":                         "core/connections.Store.All (the fleet broadcast)",
		"execute-api:ManageConnections":         "functions/monitor.Sender PostToConnection",
		"sqs:GetQueueAttributes":                "functions/monitor fleet status (the job queue's depth)",
		"autoscaling:DescribeAutoScalingGroups": "functions/monitor fleet status",
		"ec2:DescribeInstances":                 "functions/monitor fleet status",
	}
)

// publish is what sns:Publish to the KMS-encrypted topic named takes.
func publish(topic string) map[string]string {
	return map[string]string{
		"sns:Publish":          "core/event.Publisher (the " + topic + " topic)",
		"kms:GenerateDataKey*": "sns:Publish to the KMS-encrypted " + topic + " topic",
		"kms:Decrypt":          "sns:Publish to the KMS-encrypted " + topic + " topic",
	}
}

func with(rows ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, r := range rows {
		for a, where := range r {
			if prev, ok := out[a]; ok && prev != where {
				where = prev + "; " + where
			}
			out[a] = where
		}
	}
	return out
}

// ActionsOf is the IAM actions an SDK request needs, from its service id and
// operation as aws-sdk-go-v2 names them ("DynamoDB", "PutItem"). A
// transaction is authorised by the item actions inside it: none is
// returned for it (its parts are in the table). ok is false for a service
// the table has no rule for.
func ActionsOf(service, op string) (actions []string, ok bool) {
	batch := strings.TrimSuffix(op, "Batch")
	switch service {
	case "DynamoDB":
		switch op {
		case "TransactWriteItems", "TransactGetItems":
			return nil, true
		}
		return []string{"dynamodb:" + op}, true
	case "S3":
		switch op {
		case "ListObjectsV2", "ListObjects":
			return []string{"s3:ListBucket"}, true
		case "DeleteObjects":
			return []string{"s3:DeleteObject"}, true
		case "HeadObject":
			return []string{"s3:GetObject"}, true
		case "CopyObject":
			return []string{"s3:GetObject", "s3:PutObject"}, true
		}
		return []string{"s3:" + op}, true
	case "SQS":
		return []string{"sqs:" + batch}, true
	case "SNS":
		return []string{"sns:" + batch}, true
	case "SESv2", "SES":
		return []string{"ses:" + op}, true
	case "ApiGatewayManagementApi":
		return []string{"execute-api:ManageConnections"}, true
	case "Auto Scaling":
		return []string{"autoscaling:" + op}, true
	case "EC2":
		return []string{"ec2:" + op}, true
	}
	return nil, false
}

// Actions is the table's row of function name (a copy), nil for an unknown one.
func Actions(name string) map[string]string {
	row, ok := IAMActions[name]
	if !ok {
		return nil
	}
	return maps.Clone(row)
}
