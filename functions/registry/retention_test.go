package registry_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/foqus-cloud/stack/core/api"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/functions/registry"
)

// ttls are the TTL attributes of every item in table (a test stack's own).
func ttls(t *testing.T, db *dynamodb.Client, table string) []int64 {
	t.Helper()
	var out []int64
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			n, ok := item[resource.TTLAttribute].(*types.AttributeValueMemberN)
			if !ok {
				t.Fatalf("item %v has no TTL", item)
			}
			v, _ := strconv.ParseInt(n.Value, 10, 64)
			out = append(out, v)
		}
	}
	return out
}

// The items a function writes expire after the stage's retention, as its
// environment gives it (the session bucket's objects expire by the same days).
func TestTTLFollowsTheStageRetention(t *testing.T) {
	t.Parallel()
	for _, days := range []int{3, 9} {
		e := newEnv(t)
		vars := e.st.Env()
		vars[resource.EnvRetentionDays] = strconv.Itoa(days)
		set, err := registry.New(e.st.Config, vars, api.FnSessionCreate, api.FnSessionAppend, api.FnSessionStart)
		if err != nil {
			t.Fatal(err)
		}
		e.set = set
		sid, _ := e.newSession("alice", 2)
		e.ok("POST", "/session/"+sid+"/start", "alice", "", nil)
		want := time.Now().Add(time.Duration(days) * 24 * time.Hour).Unix()
		got := ttls(t, dynamodb.NewFromConfig(e.st.Config), e.st.ResourcesTable)
		if len(got) < 3 { // the session and its two jobs at least
			t.Fatalf("retention %d days: %d items", days, len(got))
		}
		for _, ttl := range got {
			if ttl < want-60 || ttl > want+60 {
				t.Errorf("retention %d days: an item expires at %d, want %d ± 60 s", days, ttl, want)
			}
		}
	}
}

func TestRetentionMustBeWholeDays(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	for _, bad := range []string{"", "0", "-1", "two weeks", "1.5"} {
		vars := st.Env()
		vars[resource.EnvRetentionDays] = bad
		_, err := registry.New(st.Config, vars, api.FnSessionAppend)
		if err == nil || !strings.Contains(err.Error(), resource.EnvRetentionDays) {
			t.Errorf("retention %q: %v, want an error naming %s", bad, err, resource.EnvRetentionDays)
		}
		if err != nil && bad != "" && !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("retention %q: %v does not quote the value", bad, err)
		}
	}
}
