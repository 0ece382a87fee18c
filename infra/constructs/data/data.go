// Package data declares the stateful resources: the two DynamoDB tables and the
// session and simulation buckets (plus the bucket receiving their access logs).
package data

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/config"
)

// Props configure the data construct.
type Props struct {
	Stage config.Stage
}

// Data holds the stateful resources of one stage.
type Data struct {
	constructs.Construct
	UsersTable       awsdynamodb.ITable
	ResourcesTable   awsdynamodb.ITable
	SessionBucket    awss3.IBucket
	SimulationBucket awss3.IBucket
	Artifacts        awss3.IBucket // installers and the worker binary for the image pipeline
	AccessLogs       awss3.IBucket
}

// New declares the tables and buckets. In a retaining stage (prod) they
// survive stack deletion and the tables refuse deletion; elsewhere they are
// destroyed with the stack (a non-empty bucket then fails to delete, on purpose:
// no auto-delete custom resource).
func New(scope constructs.Construct, id string, props *Props) *Data {
	c := constructs.NewConstruct(scope, jsii.String(id))
	st := props.Stage
	d := &Data{Construct: c}
	d.tables(st)
	d.buckets(st)
	return d
}

func removalPolicy(st config.Stage) awscdk.RemovalPolicy {
	if st.Retain() {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// tables declares the users and resources tables.
func (d *Data) tables(st config.Stage) {
	c, removal := d.Construct, removalPolicy(st)

	d.UsersTable = awsdynamodb.NewTable(c, jsii.String("Users"), &awsdynamodb.TableProps{
		TableName:    jsii.String(resource.Name(resource.UsersTable, st.Name)),
		PartitionKey: &awsdynamodb.Attribute{Name: jsii.String(resource.UsersKey), Type: awsdynamodb.AttributeType_STRING},
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:   awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(st.Retain()),
		RemovalPolicy:      removal,
	})

	resources := awsdynamodb.NewTable(c, jsii.String("Resources"), &awsdynamodb.TableProps{
		TableName:           jsii.String(resource.Name(resource.ResourcesTable, st.Name)),
		PartitionKey:        &awsdynamodb.Attribute{Name: jsii.String(resource.PK), Type: awsdynamodb.AttributeType_STRING},
		SortKey:             &awsdynamodb.Attribute{Name: jsii.String(resource.SK), Type: awsdynamodb.AttributeType_STRING},
		TimeToLiveAttribute: jsii.String(resource.TTLAttribute),
		BillingMode:         awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Encryption:          awsdynamodb.TableEncryption_AWS_MANAGED,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection: jsii.Bool(st.Retain()),
		RemovalPolicy:      removal,
	})
	for _, lsi := range []struct{ name, key string }{
		{resource.PendingIndex, resource.PendingSeq},
		{resource.FinishedIndex, resource.FinishedSeq},
	} {
		resources.AddLocalSecondaryIndex(&awsdynamodb.LocalSecondaryIndexProps{
			IndexName:      jsii.String(lsi.name),
			SortKey:        &awsdynamodb.Attribute{Name: jsii.String(lsi.key), Type: awsdynamodb.AttributeType_NUMBER},
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	d.ResourcesTable = resources
}

// buckets declares the session, simulation and artifacts buckets and the
// bucket receiving their access logs.
func (d *Data) buckets(st config.Stage) {
	c, removal := d.Construct, removalPolicy(st)
	account, region := *awscdk.Aws_ACCOUNT_ID(), *awscdk.Aws_REGION()
	// The log bucket itself cannot log to itself usefully; SSE-S3 is the only
	// encryption S3 server access logging delivers into.
	d.AccessLogs = awss3.NewBucket(c, jsii.String("AccessLogs"), &awss3.BucketProps{
		BucketName:        jsii.String(resource.BucketName(resource.AccessLogBucket, st.Name, account, region)),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		EnforceSSL:        jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		Versioned:         jsii.Bool(true),
		RemovalPolicy:     removal,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                          jsii.String("expire-access-logs"),
			Expiration:                  awscdk.Duration_Days(jsii.Number(float64(max(st.LogRetentionDays, 30)))),
			NoncurrentVersionExpiration: awscdk.Duration_Days(jsii.Number(7)),
		}},
	})

	bucket := func(id, base, logPrefix string, rules []*awss3.LifecycleRule) awss3.Bucket {
		return awss3.NewBucket(c, jsii.String(id), &awss3.BucketProps{
			BucketName:             jsii.String(resource.BucketName(base, st.Name, account, region)),
			BlockPublicAccess:      awss3.BlockPublicAccess_BLOCK_ALL(),
			Encryption:             awss3.BucketEncryption_S3_MANAGED,
			EnforceSSL:             jsii.Bool(true),
			ObjectOwnership:        awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
			Versioned:              jsii.Bool(true),
			ServerAccessLogsBucket: d.AccessLogs,
			ServerAccessLogsPrefix: jsii.String(logPrefix),
			LifecycleRules:         &rules,
			RemovalPolicy:          removal,
		})
	}
	abort := awscdk.Duration_Days(jsii.Number(7))
	// Session objects (job inputs, outputs, result pages) are transient: they
	// expire with the stage's data retention.
	d.SessionBucket = bucket("Sessions", resource.SessionBucket, "sessions/", []*awss3.LifecycleRule{{
		Id:                                  jsii.String("expire-sessions"),
		Expiration:                          awscdk.Duration_Days(jsii.Number(float64(st.DataExpirationDays))),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(7)),
		AbortIncompleteMultipartUploadAfter: abort,
	}})
	// Simulations are the users' models: kept, only old versions expire.
	d.SimulationBucket = bucket("Simulations", resource.SimulationBkt, "simulations/", []*awss3.LifecycleRule{{
		Id:                                  jsii.String("expire-old-versions"),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(30)),
		AbortIncompleteMultipartUploadAfter: abort,
	}})
	// Installers are uploaded by hand (ami/README.md) and checksum-pinned in
	// the recipe: keep them, expire only replaced versions.
	d.Artifacts = bucket("Artifacts", resource.ArtifactsBucket, "artifacts/", []*awss3.LifecycleRule{{
		Id:                                  jsii.String("expire-old-versions"),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(90)),
		AbortIncompleteMultipartUploadAfter: abort,
	}})
}
