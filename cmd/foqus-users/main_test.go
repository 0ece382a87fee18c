package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/foqus-cloud/stack/core/mototest"
	"github.com/foqus-cloud/stack/core/user"
)

var srv *mototest.Server

func TestMain(m *testing.M) { os.Exit(mototest.Run(m, &srv)) }

// Against the local stack's loopback endpoint the command needs no AWS
// environment: no credentials, no region, no profile.
func TestLoopbackEndpointNeedsNoAWSEnvironment(t *testing.T) {
	st := srv.Stack(t)
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--endpoint", srv.Endpoint(), "--table", st.UsersTable, "add", "carol"}, strings.NewReader(""), &out); err != nil || !strings.Contains(out.String(), "added carol") {
		t.Fatalf("add against %s without an AWS environment: %q, %v", srv.Endpoint(), out.String(), err)
	}
	for endpoint, want := range map[string]bool{
		"http://127.0.0.1:5000": true, "http://localhost:8080": true, "http://[::1]:1": true,
		"https://dynamodb.us-east-1.amazonaws.com": false, "http://10.0.0.1:5000": false, "": false,
	} {
		if got := loopback(endpoint); got != want {
			t.Errorf("loopback(%q) = %v, want %v", endpoint, got, want)
		}
	}
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	st := srv.Stack(t)
	ctx := context.Background()
	cli := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"--endpoint", srv.Endpoint(), "--table", st.UsersTable}, args...), strings.NewReader(stdin), &out)
		return out.String(), err
	}
	users := user.NewStore(dynamodb.NewFromConfig(st.Config), st.UsersTable)

	if out, err := cli("s3cret-password-1\n", "--password-stdin", "--tier", "premium", "add", "alice"); err != nil || !strings.Contains(out, "added alice (premium)") {
		t.Fatalf("add: %q, %v", out, err)
	}
	if u, err := users.Authenticate(ctx, "alice", "s3cret-password-1"); err != nil || u.Tier != user.Premium {
		t.Fatalf("alice cannot log in with the password given on stdin: %v", err)
	}
	out, err := cli("", "add", "bob")
	if err != nil || !strings.Contains(out, "password: ") {
		t.Fatalf("add with a generated password: %q, %v", out, err)
	}
	pw := strings.TrimSpace(out[strings.Index(out, "password: ")+len("password: "):])
	if _, err := users.Authenticate(ctx, "bob", pw); err != nil {
		t.Fatalf("bob cannot log in with the printed password: %v", err)
	}
	if out, err := cli("", "list"); err != nil || !strings.Contains(out, "alice") || !strings.Contains(out, "bob") || strings.Contains(out, pw) {
		t.Fatalf("list: %q, %v", out, err)
	}
	if _, err := cli("", "disable", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Authenticate(ctx, "alice", "s3cret-password-1"); !errors.Is(err, user.ErrDisabled) {
		t.Fatalf("disabled alice: %v", err)
	}
	if _, err := cli("", "enable", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli("", "remove", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli("", "remove", "alice"); !errors.Is(err, user.ErrUnknownUser) {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := cli("short\n", "--password-stdin", "add", "carol"); !errors.Is(err, user.ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	if _, err := cli("", "frobnicate"); err == nil {
		t.Fatal("an unknown command was accepted")
	}
	if _, err := cli("", "disable"); err == nil {
		t.Fatal("disable without a name was accepted")
	}
}
