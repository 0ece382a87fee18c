package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/foqus-cloud/stack/core/sessionstore"
)

// Fleet describes the job queue and the workers in FOQUS's shapes: the sqs,
// autoscale and ec2 keys of a Message.
type Fleet interface {
	Status(ctx context.Context) (Message, error)
}

// Queue reads the job queue's attributes (one GetQueueAttributes).
type Queue struct {
	SQS *sqs.Client
	URL string
}

// Status is the queue's attributes.
func (q Queue) Status(ctx context.Context) (*QueueStatus, error) {
	out, err := q.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &q.URL, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return nil, fmt.Errorf("job queue attributes: %w", err)
	}
	return &QueueStatus{Attributes: out.Attributes}, nil
}

// AWSFleet is the deployed fleet: the job queue, the worker Auto Scaling group
// and its instances (three requests when everything fits a page).
type AWSFleet struct {
	Queue       Queue
	AutoScaling *autoscaling.Client
	EC2         *ec2.Client
	Group       string
}

// Status implements Fleet.
func (f *AWSFleet) Status(ctx context.Context) (Message, error) {
	q, err := f.Queue.Status(ctx)
	if err != nil {
		return Message{}, err
	}
	m := Message{SQS: q, Autoscale: &GroupsStatus{AutoScalingGroups: []Group{}}, EC2: &InstancesStatus{Reservations: []Reservation{}}}
	groups := autoscaling.NewDescribeAutoScalingGroupsPaginator(f.AutoScaling, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{f.Group}})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			return Message{}, fmt.Errorf("worker group: %w", err)
		}
		for _, g := range page.AutoScalingGroups {
			m.Autoscale.AutoScalingGroups = append(m.Autoscale.AutoScalingGroups, Group{
				AutoScalingGroupName: aws.ToString(g.AutoScalingGroupName),
				MinSize:              aws.ToInt32(g.MinSize), MaxSize: aws.ToInt32(g.MaxSize), DesiredCapacity: aws.ToInt32(g.DesiredCapacity),
			})
		}
	}
	instances := ec2.NewDescribeInstancesPaginator(f.EC2, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:aws:autoscaling:groupName"), Values: []string{f.Group}},
		{Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "shutting-down", "stopping", "stopped"}},
	}})
	for instances.HasMorePages() {
		page, err := instances.NextPage(ctx)
		if err != nil {
			return Message{}, fmt.Errorf("worker instances: %w", err)
		}
		for _, r := range page.Reservations {
			res := Reservation{Instances: []Instance{}}
			for _, in := range r.Instances {
				res.Instances = append(res.Instances, instance(in))
			}
			m.EC2.Reservations = append(m.EC2.Reservations, res)
		}
	}
	return m, nil
}

func instance(in ec2types.Instance) Instance {
	out := Instance{InstanceID: aws.ToString(in.InstanceId), Tags: []Tag{}, InstanceType: string(in.InstanceType), Platform: string(in.Platform)}
	if out.Platform == "" { // EC2 leaves Platform out for Linux
		out.Platform = aws.ToString(in.PlatformDetails)
	}
	for _, t := range in.Tags {
		out.Tags = append(out.Tags, Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
	}
	if in.State != nil {
		out.State = InstanceState{Code: aws.ToInt32(in.State.Code), Name: string(in.State.Name)}
	}
	return out
}

// HeartbeatLive is how recent a worker's heartbeat must be to count it.
const HeartbeatLive = 3 * time.Minute

// HeartbeatFleet is the local stack's fleet: the workers that sent a
// heartbeat lately, shown as the instances of a fixed-size group.
type HeartbeatFleet struct {
	Queue    Queue
	Sessions *sessionstore.Store
	Group    string
	Platform string // of the local workers
}

// Status implements Fleet.
func (f *HeartbeatFleet) Status(ctx context.Context) (Message, error) {
	q, err := f.Queue.Status(ctx)
	if err != nil {
		return Message{}, err
	}
	var live []sessionstore.Consumer
	cut := f.Sessions.Now().Add(-HeartbeatLive)
	for c, err := range f.Sessions.Consumers(ctx) {
		if err != nil {
			return Message{}, err
		}
		if c.LastBeat().After(cut) {
			live = append(live, c)
		}
	}
	res := Reservation{Instances: []Instance{}}
	for _, c := range live {
		name := c.Instance
		if name == "" {
			name = c.ID
		}
		res.Instances = append(res.Instances, Instance{
			InstanceID: c.ID, Tags: []Tag{{Key: "Name", Value: name}}, InstanceType: "local",
			Platform: f.Platform, State: InstanceState{Code: 16, Name: "running"},
		})
	}
	n := int32(len(live))
	return Message{
		SQS:       q,
		Autoscale: &GroupsStatus{AutoScalingGroups: []Group{{AutoScalingGroupName: f.Group, MinSize: n, MaxSize: n, DesiredCapacity: n}}},
		EC2:       &InstancesStatus{Reservations: []Reservation{res}},
	}, nil
}
