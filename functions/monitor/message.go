// Package monitor is the Cloud monitor's WebSocket API: the $connect
// authorizer, the route handlers, the fleet status FOQUS desktop renders and
// the pushes of each user's own session counts. Messages go out through the
// API Gateway Management API (PostToConnection), in Lambda and locally alike.
package monitor

import (
	"context"
	"fmt"

	"github.com/foqus-cloud/stack/core/job"
	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Message is one JSON object sent on a connection. FOQUS
// (foqus_lib/gui/help/helpBrowser.py) clears its view on every message and
// renders sqs, autoscale and ec2; it ignores the other keys.
type Message struct {
	SQS       *QueueStatus     `json:"sqs,omitempty"`
	Autoscale *GroupsStatus    `json:"autoscale,omitempty"`
	EC2       *InstancesStatus `json:"ec2,omitempty"`
	Sessions  []SessionCounts  `json:"sessions,omitempty"`
	Error     string           `json:"error,omitempty"`
}

// QueueStatus is the job queue's GetQueueAttributes answer.
type QueueStatus struct {
	Attributes map[string]string `json:"Attributes"`
}

// GroupsStatus is DescribeAutoScalingGroups' answer, the fields FOQUS reads.
type GroupsStatus struct {
	AutoScalingGroups []Group `json:"AutoScalingGroups"`
}

// Group is one Auto Scaling group.
type Group struct {
	AutoScalingGroupName string `json:"AutoScalingGroupName"`
	MinSize              int32  `json:"MinSize"`
	MaxSize              int32  `json:"MaxSize"`
	DesiredCapacity      int32  `json:"DesiredCapacity"`
}

// InstancesStatus is DescribeInstances' answer, the fields FOQUS reads. FOQUS
// indexes Tags, InstanceType, Platform and State of every instance without a
// default, so each is always present.
type InstancesStatus struct {
	Reservations []Reservation `json:"Reservations"`
}

// Reservation groups instances as EC2 does.
type Reservation struct {
	Instances []Instance `json:"Instances"`
}

// Instance is one worker instance.
type Instance struct {
	InstanceID   string        `json:"InstanceId"`
	Tags         []Tag         `json:"Tags"`
	InstanceType string        `json:"InstanceType"`
	Platform     string        `json:"Platform"`
	State        InstanceState `json:"State"`
}

// Tag is an EC2 tag; FOQUS shows the one named Name.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// InstanceState is EC2's state of an instance.
type InstanceState struct {
	Code int32  `json:"Code"`
	Name string `json:"Name"`
}

// SessionCounts is one of the user's sessions: its jobs and how many are in
// each state (every state is listed, zeros included).
type SessionCounts struct {
	ID     string         `json:"Id"`
	State  string         `json:"State,omitempty"`
	Jobs   int            `json:"Jobs"`
	Counts map[string]int `json:"Counts"`
}

// Done reports whether every job of the session is final.
func (c SessionCounts) Done() bool {
	final := 0
	for _, s := range job.States {
		if s.Terminal() {
			final += c.Counts[string(s)]
		}
	}
	return final == c.Jobs
}

// Counts reads one session's jobs and counts them per state (one Query on the
// session's partition).
func Counts(ctx context.Context, st *sessionstore.Store, user, sid string) (SessionCounts, error) {
	jobs, err := st.Jobs(ctx, user, sid)
	if err != nil {
		return SessionCounts{}, err
	}
	c := SessionCounts{ID: sid, Jobs: len(jobs), Counts: make(map[string]int, len(job.States))}
	for _, s := range job.States {
		c.Counts[string(s)] = 0
	}
	for _, j := range jobs {
		c.Counts[string(j.State)]++
	}
	return c, nil
}

// ActiveSessions counts the jobs of user's sessions that still have jobs to
// finish (a Query of the user's sessions, one per such session).
func ActiveSessions(ctx context.Context, st *sessionstore.Store, user string) ([]SessionCounts, error) {
	out := []SessionCounts{}
	for s, err := range st.Sessions(ctx, user) {
		if err != nil {
			return nil, fmt.Errorf("sessions of %s: %w", user, err)
		}
		if s.State != sessionstore.SessionActive || s.Finished >= s.Jobs {
			continue
		}
		c, err := Counts(ctx, st, user, s.ID)
		if err != nil {
			return nil, err
		}
		c.State = s.State
		out = append(out, c)
	}
	return out, nil
}
