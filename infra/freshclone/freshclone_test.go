// Package freshclone_test runs the documented first-deploy commands on a
// tree with no build outputs (no build/, cdk.out/ or app binary): `make
// cdk-bootstrap`'s synth step and `cdk synth` through the pinned CLI, whose
// cdk.json app must build what it needs itself.
package freshclone_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// repoRoot is the directory holding cdk.json above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "cdk.json")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("no cdk.json above the test")
		}
		dir = filepath.Dir(dir)
	}
}

// cleanTree copies the tracked files of root (as they are on disk) into a
// new directory: what a fresh clone has. The pinned CLI under .tools/ is a
// tool, not a build output: it is linked in when root has it.
func cleanTree(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	dst := t.TempDir()
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, rel)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or a link
		}
		if err := copyFile(src, filepath.Join(dst, rel), fi.Mode()); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, ".tools"), filepath.Join(dst, ".tools")); err != nil {
		t.Fatal(err)
	}
	return dst
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

func run(ctx context.Context, t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s on a clean tree: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	t.Logf("%s %s: %.1f s", name, strings.Join(args, " "), time.Since(start).Seconds())
}

func TestDocumentedCommandsWorkOnAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions and the CDK app from scratch (minutes)")
	}
	root := repoRoot(t)
	if err := exec.Command("make", "-C", root, "--no-print-directory", "-s", "cdk-cli").Run(); err != nil {
		t.Skipf("the pinned aws-cdk CLI cannot be installed here (make cdk-cli: %v)", err)
	}
	tree := cleanTree(t, root)
	for _, p := range []string{"build", "cdk.out", ".cache"} {
		if _, err := os.Stat(filepath.Join(tree, p)); err == nil {
			t.Fatalf("%s in the clean tree: it is not clean", p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// Go's build and module caches stay shared (that is what keeps this
	// affordable); jsii's unpacked packages too. No AWS account is reached.
	env := append(os.Environ(),
		"JSII_RUNTIME_PACKAGE_CACHE_ROOT="+filepath.Join(root, ".cache", "jsii"),
		"CDK_HOME="+t.TempDir(), "AWS_EC2_METADATA_DISABLED=true", "AWS_REGION=us-east-1",
		"CDK_DISABLE_CLI_TELEMETRY=true")

	// make cdk-bootstrap = synth, then `cdk bootstrap` against the account:
	// its synth step is what must work without a prior build.
	run(ctx, t, tree, env, "make", "--no-print-directory", "synth", "STAGE=dev")
	for _, f := range []string{"foqus-data-dev.template.json", "foqus-service-dev.template.json"} {
		if _, err := os.Stat(filepath.Join(tree, "cdk.out", f)); err != nil {
			t.Errorf("make synth wrote no %s: %v", f, err)
		}
	}

	// `npx cdk synth` runs cdk.json's app: it must build the bootstraps itself.
	if err := os.RemoveAll(filepath.Join(tree, "build")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(tree, "cdk.out")); err != nil {
		t.Fatal(err)
	}
	run(ctx, t, tree, env, filepath.Join(tree, ".tools", "cdkcli", "node_modules", ".bin", "cdk"),
		"synth", "-c", "stage=dev", "--no-notices", "--quiet", "--all")
	for _, f := range []string{"foqus-data-dev.template.json", "foqus-service-dev.template.json"} {
		if _, err := os.Stat(filepath.Join(tree, "cdk.out", f)); err != nil {
			t.Errorf("cdk synth wrote no %s: %v", f, err)
		}
	}
}
