package seal

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"eseal/archive"
	"eseal/keys"
)

// Small objects in the store: seal descriptors, status events, grants, use
// markers, PKI certificates. Each is written once (put-if-absent) and read
// whole, so a size bound keeps a damaged or hostile store from costing memory.

// maxMetaObject bounds every small object read back.
const maxMetaObject = 1 << 20

// putObject writes a small object once; an existing one is archive.ErrExists.
func putObject(ctx context.Context, s archive.Store, key string, data []byte) error {
	_, err := archive.PutBytesIfAbsent(ctx, s, key, data)
	return err
}

// getObject reads a small object, refusing one larger than max.
func getObject(ctx context.Context, s archive.Store, key string, max int64) ([]byte, error) {
	b, _, err := archive.GetBytesMax(ctx, s, key, max)
	return b, err
}

// jsonObject is v as putJSON stores it: indented JSON and a newline.
func jsonObject(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic("seal: a stored object does not marshal: " + err.Error()) // plain data: cannot happen
	}
	return append(b, '\n')
}

// putJSON writes v once as indented JSON, readable by people browsing the store.
func putJSON(ctx context.Context, s archive.Store, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return putObject(ctx, s, key, append(b, '\n'))
}

// getJSON reads an object written by putJSON into v.
func getJSON(ctx context.Context, s archive.Store, key string, v any) error {
	b, err := getObject(ctx, s, key, maxMetaObject)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// getJSONVersion is getJSON of one version of the object, as ListVersions
// names it ("" is the current one); it returns the version's information
// too, its retention with it.
func getJSONVersion(ctx context.Context, s archive.Store, key, version string, v any) (archive.ObjectInfo, error) {
	var b []byte
	var info archive.ObjectInfo
	var err error
	if version == "" {
		b, info, err = archive.GetBytesMax(ctx, s, key, maxMetaObject)
	} else {
		b, info, err = archive.GetVersionBytesMax(ctx, s, key, version, maxMetaObject)
	}
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return info, fmt.Errorf("%s: %w", key, err)
	}
	return info, nil
}

// listedCache holds decoded copies of small objects that are written once,
// by key, so that a listing showing the same object as the last one needs no
// GET: the newest event of a seal's status/ or policy/ series. The listing
// still runs every time; only the read of an object already read is saved.
//
// An entry serves only an object listed as it was when read: same size, time
// and version (S3). An event whose audit append failed is deleted again
// (LogChange) and its key may be written anew with other content; the
// listing then shows another version or time, and the object is read again.
// Bounded (emptied when full); safe for concurrent use.
type listedCache[T any] struct {
	mu sync.Mutex
	m  map[string]listedEntry[T]
}

type listedEntry[T any] struct {
	size    int64
	modTime time.Time
	version string
	v       T
}

// maxListedCache bounds each listedCache: a few hundred bytes an entry.
const maxListedCache = 10000

// getJSON returns the object o (as a listing gave it), decoded: the cached
// copy when o is unchanged, else read from the store and cached.
func (c *listedCache[T]) getJSON(ctx context.Context, s archive.Store, o archive.ObjectInfo) (T, error) {
	c.mu.Lock()
	e, ok := c.m[o.Key]
	c.mu.Unlock()
	if ok && e.size == o.Size && e.modTime.Equal(o.ModTime) && e.version == o.VersionID {
		return e.v, nil
	}
	var v T
	if err := getJSON(ctx, s, o.Key, &v); err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxListedCache {
		c.m = map[string]listedEntry[T]{}
	}
	c.m[o.Key] = listedEntry[T]{size: o.Size, modTime: o.ModTime, version: o.VersionID, v: v}
	c.mu.Unlock()
	return v, nil
}

// getCert reads an object holding exactly one PEM certificate.
func getCert(ctx context.Context, s archive.Store, key string) (*smx509.Certificate, error) {
	b, err := getObject(ctx, s, key, maxMetaObject)
	if err != nil {
		return nil, err
	}
	certs, err := keys.ParseCertificatesPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%s: want one certificate, found %d", key, len(certs))
	}
	return certs[0], nil
}

func certPEM(c *smx509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
