// Package notify e-mails users about their results through SES: when a
// session's last job finished, and when a restore brought its results back.
// A user gets mail only with a registered address and without an opt-out.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/user"
)

// Notifier sends notices from the stage's SES identity.
type Notifier struct {
	SES   *sesv2.Client
	From  string // the stage's sender identity; nothing is sent without one
	Users *user.Store
}

// Mail is one notice.
type Mail struct {
	Subject, Body string
}

// Send mails m to user name; false when the user has no address or opted out.
func (n *Notifier) Send(ctx context.Context, name string, m Mail) (bool, error) {
	if n.From == "" {
		return false, nil
	}
	u, err := n.Users.Get(ctx, name)
	if err != nil {
		return false, err
	}
	if u.Email == "" || u.OptOut {
		return false, nil
	}
	_, err = n.SES.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(n.From),
		Destination:      &sestypes.Destination{ToAddresses: []string{u.Email}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String(m.Subject), Charset: aws.String("UTF-8")},
			Body:    &sestypes.Body{Text: &sestypes.Content{Data: aws.String(m.Body), Charset: aws.String("UTF-8")}},
		}},
	})
	if err != nil {
		return false, fmt.Errorf("mail %s: %w", name, err)
	}
	return true, nil
}

// Counts renders jobs per state in lifecycle order, e.g. "success 4, error 1".
func Counts(c map[job.State]int) string {
	var parts []string
	for _, s := range job.States {
		if c[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, c[s]))
		}
	}
	if len(parts) == 0 {
		return "no jobs"
	}
	return strings.Join(parts, ", ")
}

// Finished is the notice of a session whose last job finished. A free
// user's results stay live for window.
func Finished(sid string, counts map[job.State]int, tier user.Tier, window time.Duration) Mail {
	var b strings.Builder
	fmt.Fprintf(&b, "Your FOQUS Cloud session %s has no job left to run.\n\nJobs: %s.\n\n", sid, Counts(counts))
	if tier == user.Premium {
		b.WriteString("Your results stay available.\n")
	} else {
		fmt.Fprintf(&b, "On the free plan results stay live for %s after the last job finished; then they are archived. Upgrade to restore archived results.\n", window)
	}
	return Mail{Subject: "FOQUS Cloud: session " + sid + " finished", Body: b.String()}
}

// SendRestored mails the user of th the restore notice, when the thaw
// re-homed jobs (a repeated thaw did nothing and mails nothing). At most
// once: a failed send is logged, never retried, since the results are back
// either way.
func (n *Notifier) SendRestored(ctx context.Context, th archive.Thawed) {
	if th.Jobs == 0 {
		return
	}
	if _, err := n.Send(ctx, th.User, Restored(th.Session, th.Counts)); err != nil {
		slog.WarnContext(ctx, "restore notice not sent", "user", th.User, "session", th.Session, "err", err)
	}
}

// Restored is the notice of a session whose archived results are live again.
func Restored(sid string, counts map[job.State]int) Mail {
	return Mail{
		Subject: "FOQUS Cloud: results of session " + sid + " restored",
		Body:    fmt.Sprintf("The archived results of your FOQUS Cloud session %s are available again.\n\nJobs: %s.\n", sid, Counts(counts)),
	}
}
