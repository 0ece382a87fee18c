package registry

import (
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/user"
	"github.com/foqus-cloud/stack/functions/archiver"
	"github.com/foqus-cloud/stack/functions/notify"
	"github.com/foqus-cloud/stack/functions/thaw"
)

func (b *Builder) archiveQueue() *archive.Queue {
	return &archive.Queue{SQS: sqs.NewFromConfig(b.cfg), URL: b.env[resource.EnvArchiveQueueURL]}
}

// tracker counts ended jobs towards their session's completion and sends
// the archive queue a finished session's notice.
func (b *Builder) tracker() *archive.Tracker {
	return &archive.Tracker{Store: b.store(), Queue: b.archiveQueue()}
}

// lifecycle is the archive service and notifier the archiver and thaw share.
func (b *Builder) lifecycle() (*archive.Service, *notify.Notifier, error) {
	set, err := archive.SettingsFromEnv(b.env)
	if err != nil {
		return nil, nil, err
	}
	users := user.NewStore(b.dynamo(), b.env[resource.EnvUsersTable])
	svc := &archive.Service{Store: b.store(), Users: users, S3: b.s3(), Bucket: b.env[resource.EnvSessionBucket], Settings: set}
	return svc, &notify.Notifier{SES: sesv2.NewFromConfig(b.cfg), From: set.Sender, Users: users}, nil
}

// Archiver builds the archive queue's function.
func (b *Builder) Archiver() (UpdatesFunc, error) {
	if err := b.check(api.FnArchiver); err != nil {
		return nil, err
	}
	svc, n, err := b.lifecycle()
	if err != nil {
		return nil, err
	}
	h := &archiver.Handler{Service: svc, Queue: b.archiveQueue(), Notifier: n}
	return h.Handle, nil
}

// Thaw builds the thaw queue's function.
func (b *Builder) Thaw() (UpdatesFunc, error) {
	if err := b.check(api.FnThaw); err != nil {
		return nil, err
	}
	svc, n, err := b.lifecycle()
	if err != nil {
		return nil, err
	}
	h := &thaw.Handler{Service: svc, Notifier: n}
	return h.Handle, nil
}
