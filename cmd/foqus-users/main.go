// Command foqus-users manages the API's users in a stage's TurbineUsers table:
// add (the password is stored only as a bcrypt hash), list, disable, enable,
// remove. It works against a deployed stage with the usual AWS credentials,
// or against the local stack with --endpoint (printed by make dev).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/foqus-cloud/stack/core/awsconf"
	"github.com/foqus-cloud/stack/core/resource"
	"github.com/foqus-cloud/stack/core/user"
)

const usage = `Usage: foqus-users [flags] <command> [name]

Commands:
  add <name>      create a user (password from --password-stdin, else a random one is printed)
  list            list users: name, tier, disabled, created
  disable <name>  refuse the user's requests (authorizer answers 403)
  enable <name>   accept them again
  remove <name>   delete the user
  upgrade <name>  make the user premium and restore their archived results
  downgrade <name>
                  make the user free (finished sessions are archived after the window)
  set-email <name> <address>
                  where the user's notices go ("-" removes it)
  opt-out <name>  no more notices; opt-in <name> resumes them

Flags:
`

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "foqus-users:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("foqus-users", flag.ContinueOnError)
	stage := fs.String("stage", envOr(resource.EnvStage, "dev"), "stage whose users table to use")
	table := fs.String("table", os.Getenv(resource.EnvUsersTable), "users table (default TurbineUsers-<stage>)")
	endpoint := fs.String("endpoint", "", "AWS endpoint, e.g. the local stack's emulator")
	tier := fs.String("tier", string(user.Free), "tier of a new user: free or premium")
	fromStdin := fs.Bool("password-stdin", false, "read the new user's password from the first line of stdin")
	lf := lifecycleFlags(fs)
	fs.Usage = func() { _, _ = fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() } // best effort, like flag's own usage
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *table == "" {
		*table = resource.Name(resource.UsersTable, *stage)
	}
	var opts []func(*config.LoadOptions) error
	if *endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(*endpoint))
	}
	if loopback(*endpoint) { // the local stack's emulator: it checks no signature, and needs no AWS environment
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("testing", "testing", "")))
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(LocalRegion))
		}
	}
	cfg, err := awsconf.Load(ctx, opts...)
	if err != nil {
		return err
	}
	store := user.NewStore(dynamodb.NewFromConfig(cfg), *table)
	cmd, rest := fs.Arg(0), fs.Args()
	name := ""
	if len(rest) > 1 {
		name = rest[1]
	}
	needName := func() error {
		if name == "" || len(rest) != 2 {
			return fmt.Errorf("%s takes one user name", cmd)
		}
		return nil
	}
	switch cmd {
	case "add":
		if err := needName(); err != nil {
			return err
		}
		pw, generated, err := password(stdin, *fromStdin)
		if err != nil {
			return err
		}
		if _, err := store.Create(ctx, name, pw, user.Tier(*tier)); err != nil {
			return err
		}
		msg := fmt.Sprintf("added %s (%s) to %s\n", name, *tier, *table)
		if generated {
			msg += fmt.Sprintf("password: %s\n", pw)
		}
		_, err = io.WriteString(stdout, msg)
		return err
	case "list":
		var b strings.Builder // tabwriter's errors surface at Flush
		w := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		_, _ = fmt.Fprintln(w, "NAME\tTIER\tDISABLED\tCREATED")
		for u, err := range store.List(ctx) {
			if err != nil {
				return err
			}
			_, _ = fmt.Fprintf(w, "%s\t%s\t%v\t%s\n", u.Name, u.Tier, u.Disabled, u.Created)
		}
		if err := w.Flush(); err != nil {
			return err
		}
		_, err = io.WriteString(stdout, b.String())
		return err
	case "disable", "enable":
		if err := needName(); err != nil {
			return err
		}
		if err := store.SetDisabled(ctx, name, cmd == "disable"); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%sd %s\n", cmd, name)
		return err
	case "remove":
		if err := needName(); err != nil {
			return err
		}
		if err := store.Delete(ctx, name); err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "removed %s\n", name)
		return err
	case "upgrade", "downgrade", "set-email", "opt-out", "opt-in":
		lf.stage = *stage
		return lifecycle(ctx, cfg, store, lf, rest, stdout)
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// password reads the first line of stdin, or makes a random one.
func password(stdin io.Reader, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		b := make([]byte, 15)
		if _, err := rand.Read(b); err != nil {
			return "", false, err
		}
		return base64.RawURLEncoding.EncodeToString(b), true, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	return strings.TrimRight(line, "\r\n"), false, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// LocalRegion is the region used against a loopback endpoint when none is set.
const LocalRegion = "us-east-1"

// loopback reports whether endpoint is a URL on this machine (the local stack).
func loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
