package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/foqus-cloud/stack/core/connections"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Sender posts messages to connections through the Management API and
// forgets the connections API Gateway says are gone (410).
type Sender struct {
	API   *apigatewaymanagementapi.Client
	Conns *connections.Store // nil: a gone connection is left to $disconnect and the TTL
}

// ErrGone is a connection that no longer exists; Send has forgotten it.
var ErrGone = errors.New("connection gone")

// Send posts m to c (one PostToConnection; a DeleteItem more when it is gone).
func (s *Sender) Send(ctx context.Context, c connections.Connection, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = s.API.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: &c.ID, Data: body})
	var gone *apitypes.GoneException
	if errors.As(err, &gone) {
		if s.Conns == nil {
			return ErrGone
		}
		if derr := s.Conns.Delete(ctx, c.User, c.ID); derr != nil {
			return errors.Join(ErrGone, derr)
		}
		return ErrGone
	}
	if err != nil {
		return fmt.Errorf("post to connection of %s: %w", c.User, err)
	}
	return nil
}

// Defaults of a Pusher.
const (
	DefaultGap        = time.Second // at most one message per session per connection this often
	DefaultFleetEvery = time.Minute // the fleet is read, and pushed when it changed, this often
)

// SessionKey names one session of one user.
type SessionKey struct{ User, Session string }

// Pusher sends each user's connections the counts of their sessions that
// changed, and every connection the fleet when it changed. It is built once
// per update processor and keeps, per connection and session, when it last
// sent: a session pushed less than Gap ago is sent again once Gap has passed
// (the last counts are never dropped, only delayed).
type Pusher struct {
	Send       *Sender
	Sessions   *sessionstore.Store
	Fleet      Fleet
	Gap        time.Duration
	FleetEvery time.Duration
	Now        func() time.Time
	Log        *slog.Logger

	mu      sync.Mutex
	sent    map[string]time.Time // connection id + session id -> last push
	fleet   *Message             // last fleet read
	fleetAt time.Time
	fleetJS string // last fleet broadcast, to push only changes
}

// NewPusher returns a Pusher with the default intervals.
func NewPusher(send *Sender, sessions *sessionstore.Store, fleet Fleet) *Pusher {
	return &Pusher{Send: send, Sessions: sessions, Fleet: fleet, Gap: DefaultGap, FleetEvery: DefaultFleetEvery, Now: time.Now, Log: slog.Default()}
}

// Push delivers the new counts of the touched sessions to their users'
// connections and, when due, the fleet to everyone. It never fails: a
// message that cannot be delivered is logged, a gone connection forgotten;
// recording the events that caused it has already succeeded.
func (p *Pusher) Push(ctx context.Context, touched []SessionKey) {
	p.pushFleet(ctx)
	type due struct {
		at    time.Time
		key   SessionKey
		conns []connections.Connection
	}
	var queue []due
	byUser := map[string][]connections.Connection{}
	for _, k := range touched {
		conns, ok := byUser[k.User]
		if !ok {
			for c, err := range p.Send.Conns.OfUser(ctx, k.User) {
				if err != nil {
					p.Log.WarnContext(ctx, "monitor: no push", "user", k.User, "err", err)
					break
				}
				conns = append(conns, c)
			}
			byUser[k.User] = conns
		}
		if len(conns) == 0 {
			continue
		}
		at := p.Now()
		p.mu.Lock()
		for _, c := range conns {
			if next := p.sent[c.ID+"/"+k.Session].Add(p.Gap); next.After(at) {
				at = next
			}
		}
		p.mu.Unlock()
		queue = append(queue, due{at, k, conns})
	}
	sort.Slice(queue, func(i, j int) bool { return queue[i].at.Before(queue[j].at) })
	for _, d := range queue {
		if wait := d.at.Sub(p.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		counts, err := Counts(ctx, p.Sessions, d.key.User, d.key.Session)
		if err != nil {
			p.Log.WarnContext(ctx, "monitor: no counts", "session", d.key.Session, "err", err)
			continue
		}
		m := p.cachedFleet()
		m.Sessions = []SessionCounts{counts}
		now := p.Now()
		for _, c := range d.conns {
			p.mu.Lock()
			if p.sent == nil {
				p.sent = map[string]time.Time{}
			}
			p.sent[c.ID+"/"+d.key.Session] = now
			p.mu.Unlock()
			p.deliver(ctx, c, m)
		}
	}
}

func (p *Pusher) deliver(ctx context.Context, c connections.Connection, m Message) {
	err := p.Send.Send(ctx, c, m)
	switch {
	case errors.Is(err, ErrGone):
		p.mu.Lock()
		for k := range p.sent {
			if len(k) > len(c.ID) && k[:len(c.ID)+1] == c.ID+"/" {
				delete(p.sent, k)
			}
		}
		p.mu.Unlock()
		p.Log.InfoContext(ctx, "monitor: connection gone, forgotten", "user", c.User)
	case err != nil:
		p.Log.WarnContext(ctx, "monitor: message not delivered", "user", c.User, "err", err)
	}
}

func (p *Pusher) cachedFleet() Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fleet == nil {
		return Message{}
	}
	return *p.fleet
}

// pushFleet reads the fleet when FleetEvery has passed and, when it changed
// since the last broadcast, sends it to every connection.
func (p *Pusher) pushFleet(ctx context.Context) {
	if p.Fleet == nil {
		return
	}
	p.mu.Lock()
	due := p.fleetAt.IsZero() || p.Now().Sub(p.fleetAt) >= p.FleetEvery
	if due {
		p.fleetAt = p.Now()
	}
	p.mu.Unlock()
	if !due {
		return
	}
	m, err := p.Fleet.Status(ctx)
	if err != nil {
		p.Log.WarnContext(ctx, "monitor: fleet not read", "err", err)
		return
	}
	js, _ := json.Marshal(m)
	p.mu.Lock()
	p.fleet = &m
	changed := string(js) != p.fleetJS
	p.fleetJS = string(js)
	p.mu.Unlock()
	if !changed {
		return
	}
	for c, err := range p.Send.Conns.All(ctx) {
		if err != nil {
			p.Log.WarnContext(ctx, "monitor: fleet not pushed", "err", err)
			return
		}
		p.deliver(ctx, c, m)
	}
}
