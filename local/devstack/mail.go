package devstack

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go/middleware"
)

// mailPrinter shows the e-mails the functions send: the local stack has no
// mail server, and moto only records what SES accepted. Each one SES accepts
// is printed as it would arrive (make dev prints them on stdout).
type mailPrinter struct {
	mu sync.Mutex
	w  io.Writer
}

// attach prints every e-mail sent with cfg once SES has accepted it.
func (p *mailPrinter) attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("FoqusPrintMail",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if m, ok := in.Parameters.(*sesv2.SendEmailInput); ok && err == nil {
					p.print(m)
				}
				return out, md, err
			}), middleware.After)
	})
}

func (p *mailPrinter) print(m *sesv2.SendEmailInput) {
	var to []string
	if m.Destination != nil {
		to = m.Destination.ToAddresses
	}
	var subject, body string
	if m.Content != nil && m.Content.Simple != nil {
		if m.Content.Simple.Subject != nil {
			subject = aws.ToString(m.Content.Simple.Subject.Data)
		}
		if b := m.Content.Simple.Body; b != nil && b.Text != nil {
			body = aws.ToString(b.Text.Data)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = fmt.Fprintf(p.w, "--- e-mail sent through SES (moto: not delivered)\nFrom: %s\nTo: %s\nSubject: %s\n\n%s\n---\n",
		aws.ToString(m.FromEmailAddress), strings.Join(to, ", "), subject, strings.TrimRight(body, "\n"))
}
