package stacks_test

import (
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/foqus-cloud/stack/core/lambdaevent"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/infra/constructs/workers"
)

// Rules AWS enforces at deploy and run time that moto, cfn-lint and cdk-nag
// do not (../shared/AWS-LIMITS.md): each template test fails when one breaks.

// A launch with a root volume smaller than the image's snapshot fails: the
// launch template's root volume is the recipe's.
func TestRootVolumeIsTheRecipes(t *testing.T) {
	var recipe float64
	for _, r := range img.svc.ofType("AWS::ImageBuilder::ImageRecipe") {
		recipe, _ = path(r.Properties, "BlockDeviceMappings", 0, "Ebs", "VolumeSize").(float64)
	}
	for _, s := range []*synthesized{dev, prod, img} {
		for id, lt := range s.svc.ofType("AWS::EC2::LaunchTemplate") {
			got := path(lt.Properties, "LaunchTemplateData", "BlockDeviceMappings", 0, "Ebs", "VolumeSize")
			if got != recipe || recipe != float64(workers.RootVolumeGiB) {
				t.Errorf("%s %s: root volume %v GiB, recipe %v GiB: want both %d", s.stage.Config.Name, id, got, recipe, workers.RootVolumeGiB)
			}
		}
	}
}

// The alert topic's explicit policy (TLS-only) replaces SNS's default:
// CloudWatch may publish only through a statement of its own, scoped to the
// account.
func TestAlertTopicPolicyAllowsCloudWatch(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		alert := ""
		for id, tp := range s.svc.ofType("AWS::SNS::Topic") {
			if tp.Properties["TopicName"] == resource.Name(resource.AlertTopic, s.stage.Config.Name) {
				alert = id
			}
		}
		var allowed bool
		for _, p := range s.svc.ofType("AWS::SNS::TopicPolicy") {
			if !mentions(p.Properties["Topics"], `"`+alert+`"`) {
				continue
			}
			stmts, _ := path(p.Properties, "PolicyDocument", "Statement").([]any)
			for _, st := range stmts {
				if path(st, "Effect") == "Allow" && path(st, "Principal", "Service") == "cloudwatch.amazonaws.com" &&
					path(st, "Action") == "sns:Publish" && refOf(path(st, "Resource")) == alert &&
					mentions(path(st, "Condition", "StringEquals", "aws:SourceAccount"), "AWS::AccountId") {
					allowed = true
				}
			}
		}
		if alert == "" || !allowed {
			t.Errorf("%s: alert topic %q: no Allow of sns:Publish for cloudwatch.amazonaws.com from this account", s.stage.Config.Name, alert)
		}
	}
}

// A stage names the addresses the alert topic mails.
func TestAlarmEmailsSubscribe(t *testing.T) {
	var got []string
	for _, sub := range img.svc.ofType("AWS::SNS::Subscription") {
		if sub.Properties["Protocol"] == "email" {
			got = append(got, fmt.Sprint(sub.Properties["Endpoint"]))
		}
	}
	sort.Strings(got)
	want := append([]string(nil), img.stage.Config.AlarmEmails...)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("e-mail subscriptions %v, want %v", got, want)
	}
	for _, sub := range dev.svc.ofType("AWS::SNS::Subscription") {
		if sub.Properties["Protocol"] == "email" {
			t.Errorf("dev names no alarm e-mail, yet subscribes %v", sub.Properties["Endpoint"])
		}
	}
}

// Without binary media types API Gateway treats bodies as text and mangles
// non-UTF-8 bytes.
func TestRestAPIHasBinaryMediaTypes(t *testing.T) {
	for _, s := range []*synthesized{dev, prod} {
		for id, api := range s.svc.ofType("AWS::ApiGateway::RestApi") {
			got := fmt.Sprint(api.Properties["BinaryMediaTypes"])
			if want := fmt.Sprint(lambdaevent.BinaryMediaTypes); got != want {
				t.Errorf("%s %s: BinaryMediaTypes %s, want %s", s.stage.Config.Name, id, got, want)
			}
		}
	}
}
