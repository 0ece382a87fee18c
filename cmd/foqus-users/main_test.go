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

func TestUserLifecycle(t *testing.T) {
	st := srv.Stack(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "testing")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	t.Setenv("AWS_REGION", mototest.Region)
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
