package stacks_test

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/archive"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/functions/registry"
)

// Actions a function's role holds that its code does not call, and why.
var (
	// Lambda itself: the function's log group and X-Ray tracing.
	platformActions = map[string]string{
		"logs:CreateLogStream":     "Lambda writes the function's log group",
		"logs:PutLogEvents":        "Lambda writes the function's log group",
		"xray:PutTraceSegments":    "active tracing",
		"xray:PutTelemetryRecords": "active tracing",
	}
	// An SQS event source mapping polls for the function: AWS requires these
	// on the queue.
	eventSourceActions = map[string]string{
		"sqs:ReceiveMessage":     "the event source mapping (AWS requires it)",
		"sqs:DeleteMessage":      "the event source mapping (AWS requires it)",
		"sqs:GetQueueAttributes": "the event source mapping (AWS requires it)",
	}
	// CDK's SqsEventSource grants through grantConsumeMessages, which adds
	// these; the lifecycle's functions still use it (constructs/lifecycle),
	// the update processor has a mapping of its own.
	consumeExtras      = map[string]string{"sqs:ChangeMessageVisibility": "CDK's grantConsumeMessages (SqsEventSource)", "sqs:GetQueueUrl": "CDK's grantConsumeMessages (SqsEventSource)"}
	consumeExtrasUsers = map[string]bool{api.FnArchiver: true, api.FnThaw: true}
)

// roleActions is every action the policies of a role allow.
func roleActions(tmpl template, roleID string) map[string]bool {
	got := map[string]bool{}
	for id, p := range tmpl.ofType("AWS::IAM::Policy") {
		if !mentions(p.Properties["Roles"], `"`+roleID+`"`) {
			continue
		}
		for _, st := range iamStatements(template{Resources: map[string]cfnResource{id: p}}) {
			if st.s["Effect"] == "Allow" {
				for _, a := range strs(st.s["Action"]) {
					got[a] = true
				}
			}
		}
	}
	return got
}

// Every function's role grants exactly the actions its code calls
// (registry.IAMActions), plus Lambda's own and its event source mapping's,
// each with its reason.
func TestEveryFunctionRoleGrantsItsTable(t *testing.T) {
	tmpl := dev.svc
	byName := functionsByName(t, tmpl)
	polled := map[string]bool{} // functions with an SQS event source mapping
	for _, m := range tmpl.ofType("AWS::Lambda::EventSourceMapping") {
		polled[refOf(m.Properties["FunctionName"])] = true
	}
	var report []string
	for _, base := range api.Functions() {
		table := registry.Actions(base)
		if table == nil {
			t.Errorf("%s: no row in registry.IAMActions", base)
			continue
		}
		id := byName[resource.Name(base, "dev")]
		got := roleActions(tmpl, refOf(tmpl.Resources[id].Properties["Role"]))
		allowed := map[string]string{}
		for a, why := range platformActions {
			allowed[a] = why
		}
		if polled[id] {
			for a, why := range eventSourceActions {
				allowed[a] = why
			}
		}
		if polled[id] && consumeExtrasUsers[base] {
			for a, why := range consumeExtras {
				allowed[a] = why
			}
		}
		for a, where := range table {
			allowed[a] = where
		}
		for a, where := range table {
			if !got[a] {
				t.Errorf("%s: role lacks %s, which %s calls", base, a, where)
			}
		}
		for a := range got {
			if _, ok := allowed[a]; !ok {
				t.Errorf("%s: role grants %s, which its code never calls (add it to registry.IAMActions with where, or drop the grant)", base, a)
			}
		}
		report = append(report, fmt.Sprintf("%-26s %2d granted, %2d called", base, len(got), len(table)))
	}
	sort.Strings(report)
	t.Logf("actions per function role (dev):\n%s", strings.Join(report, "\n"))
}

// The archiver lists a session's archives to sweep stray ones: its
// s3:ListBucket is on the bucket (AWS refuses a listing granted on its
// objects; moto does not check) and holds only for prefixes under a user's
// archive/, so the listing cannot show it the live outputs.
func TestArchiverListsOnlyArchivePrefixes(t *testing.T) {
	tmpl := dev.svc
	role := refOf(tmpl.Resources[functionsByName(t, tmpl)[resource.Name(api.FnArchiver, "dev")]].Properties["Role"])
	var lists []statement
	var bucket any // the session bucket's ARN, as its object grant joins it with "/*"
	for id, p := range tmpl.ofType("AWS::IAM::Policy") {
		if !mentions(p.Properties["Roles"], `"`+role+`"`) {
			continue
		}
		for _, st := range iamStatements(template{Resources: map[string]cfnResource{id: p}}) {
			actions := strs(st.s["Action"])
			if slices.Contains(actions, "s3:ListBucket") {
				lists = append(lists, st)
			}
			if slices.Contains(actions, "s3:GetObject") && path(st.s["Resource"], "Fn::Join", 1, 1) == "/*" {
				bucket = path(st.s["Resource"], "Fn::Join", 1, 0)
			}
		}
	}
	if len(lists) != 1 || bucket == nil {
		t.Fatalf("%d statements grant the archiver s3:ListBucket (want 1); its object grant found: %v", len(lists), bucket != nil)
	}
	st := lists[0]
	if got := path(st.s["Condition"], "StringLike", "s3:prefix"); got != "*/"+archive.Prefix+"*" {
		t.Errorf("archiver's s3:ListBucket holds for prefix %v, want only */%s*", got, archive.Prefix)
	}
	// s3:ListBucket is a bucket action: granted on objects (arn/*), AWS refuses every listing.
	if !reflect.DeepEqual(st.s["Resource"], bucket) {
		t.Errorf("archiver's s3:ListBucket is granted on %v, want the session bucket's ARN itself (%v)", st.s["Resource"], bucket)
	}
}
