package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
	"eseal/archive/store"
)

func TestMain(m *testing.M) { miniotest.Main(m) }

func TestOpenFilesystem(t *testing.T) {
	dir := t.TempDir()
	for _, uri := range []string{filepath.Join(dir, "a"), "file://" + filepath.Join(dir, "b")} {
		s, err := store.Open(context.Background(), uri)
		if err != nil {
			t.Fatalf("Open(%q): %v", uri, err)
		}
		if _, ok := s.(*fs.Store); !ok {
			t.Errorf("Open(%q) = %T, want *fs.Store", uri, s)
		}
	}
}

func TestOpenS3(t *testing.T) {
	endpoint, access, secret := miniotest.StartShared(t)
	t.Setenv("AWS_ACCESS_KEY_ID", access)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	s, err := store.Open(context.Background(), "s3://"+endpoint+fmt.Sprintf("/eseal-open-%d?tls=false", time.Now().UnixNano()%1e9))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*s3.Store); !ok {
		t.Fatalf("Open = %T, want *s3.Store", s)
	}
	if _, err := archive.PutBytesIfAbsent(context.Background(), s, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	for uri, want := range map[string]string{
		"":                                "empty",
		"s3://host:9000/bucket":           "AWS_ACCESS_KEY_ID",
		"s3://host:9000/":                 "bucket",
		"s3://host:9000/a/b":              "bucket",
		"s3:///bucket":                    "no host",
		"s3://user:secret@host:9000/b":    "credentials in the URI",
		"s3://host:9000/b?tls=maybe":      "tls",
		"s3://host:9000/b?versioning=off": "unknown parameter",
		"gs://bucket":                     "unknown scheme",
		"file://remote/x":                 "remote host",
	} {
		_, err := store.Open(context.Background(), uri)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): err = %v, want one mentioning %q", uri, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") && !strings.Contains(err.Error(), "xxxxx") {
			t.Errorf("Open(%q): error shows the password: %v", uri, err)
		}
	}
}
