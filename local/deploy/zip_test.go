package deploy

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A directory asset is zipped once: the next deploy reads the kept zip,
// which holds the directory's files under their relative names.
func TestZippedAssetIsKept(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src := filepath.Join(root, "asset.abc")
	if err := os.MkdirAll(filepath.Join(src, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"bootstrap": "#!/bin/sh\necho hi\n", "lib/data.txt": "data"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := filepath.Join(root, zipCache, "abc.zip")
	first, err := zipped(src, cache)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(first), int64(len(first)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		_ = r.Close()
		got[f.Name] = string(b)
	}
	if len(got) != len(files) || got["bootstrap"] != files["bootstrap"] || got["lib/data.txt"] != files["lib/data.txt"] {
		t.Fatalf("zip holds %v, want %v", got, files)
	}
	if kept, err := os.ReadFile(cache); err != nil || !bytes.Equal(kept, first) {
		t.Fatalf("kept zip: %v, equal %v", err, bytes.Equal(kept, first))
	}
	// The next deploy reads the kept zip, not the directory.
	if err := os.WriteFile(cache, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again, err := zipped(src, cache); err != nil || string(again) != "kept" {
		t.Fatalf("second zip: %q, %v; want the kept one", again, err)
	}
	// An unwritable cache (its directory is a file) is skipped, the zip still made.
	blocker := filepath.Join(root, "blocker")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := zipped(src, filepath.Join(blocker, "x.zip")); err != nil || !bytes.Equal(b, first) {
		t.Fatalf("zip with an unwritable cache: %v", err)
	}
}
