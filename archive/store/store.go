// Package store opens the archive.Store named by a configuration string. It
// is separate from package archive because it imports both backends, which
// themselves import archive.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/archive/s3"
)

// Open returns the store that uri names:
//
//	./data, /var/lib/eseal        a directory: the filesystem backend
//	file:///var/lib/eseal         the same, as a URI
//	s3://HOST:PORT/BUCKET         S3 over HTTPS; the bucket is created with
//	                              Object Lock if missing
//	s3://HOST:PORT/BUCKET?tls=false&region=cn-east-1
//
// S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
// never from the URI, so they stay out of configuration files and logs.
func Open(ctx context.Context, uri string) (archive.Store, error) {
	if uri == "" {
		return nil, errors.New("archive/store: empty store location")
	}
	scheme, _, ok := strings.Cut(uri, "://")
	if !ok {
		return fs.New(uri, fs.Options{})
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("archive/store: %w", err)
	}
	switch scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("archive/store: %s: file URI with a remote host", uri)
		}
		return fs.New(u.Path, fs.Options{})
	case "s3":
		cfg, err := s3Config(u)
		if err != nil {
			return nil, fmt.Errorf("archive/store: %s: %w", u.Redacted(), err)
		}
		return s3.New(ctx, cfg)
	default:
		return nil, fmt.Errorf("archive/store: %s: unknown scheme %q (want a directory, file:// or s3://)", u.Redacted(), scheme)
	}
}

func s3Config(u *url.URL) (s3.Config, error) {
	cfg := s3.Config{Endpoint: u.Host, Secure: true}
	if u.User != nil {
		return cfg, errors.New("credentials in the URI; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead")
	}
	if u.Host == "" {
		return cfg, errors.New("no host")
	}
	cfg.Bucket = strings.Trim(u.Path, "/")
	if cfg.Bucket == "" || strings.Contains(cfg.Bucket, "/") {
		return cfg, errors.New("want exactly one path element, the bucket")
	}
	q := u.Query()
	for k := range q {
		if k != "tls" && k != "region" {
			return cfg, fmt.Errorf("unknown parameter %q", k)
		}
	}
	if v := q.Get("tls"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("tls=%q: want true or false", v)
		}
		cfg.Secure = b
	}
	cfg.Region = q.Get("region")
	cfg.AccessKey = os.Getenv("AWS_ACCESS_KEY_ID")
	cfg.SecretKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return cfg, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
	}
	return cfg, nil
}
