package api_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"eseal/archive"
	"eseal/archive/s3"
	"eseal/archive/s3/miniotest"
)

// TestDownloadFromS3: on MinIO a citizen's download reads the PDF standing
// at its key, which holds the bytes the record's SM3 names — no listing of
// its versions to find the first; a PDF put in front of it (someone with
// the store's credentials) is not served: the committed first version is.
func TestDownloadFromS3(t *testing.T) {
	if testing.Short() {
		t.Skip("MinIO")
	}
	ctx := context.Background()
	endpoint, access, secret := miniotest.StartShared(t)
	base, err := s3.New(ctx, s3.Config{Endpoint: endpoint, Bucket: fmt.Sprintf("eseal-download-%d", time.Now().UnixNano()%1e9),
		AccessKey: access, SecretKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	var counting atomic.Bool
	var mu sync.Mutex
	ops := map[string]int{}
	store := archive.Instrument(base, func(op string, _ error, _ time.Duration) {
		if counting.Load() {
			mu.Lock()
			ops[op]++
			mu.Unlock()
		}
	})
	e := newEnvStore(t, "", store)
	code, docID := e.stampedCode(t, "ZJ-S3-1")
	download := func() []byte {
		t.Helper()
		r := e.do("GET", "/d/"+code+"/pdf", "", "", nil)
		if r.status != 200 {
			t.Fatalf("download: %d %s", r.status, r.body)
		}
		return r.body
	}
	committed := download() // the record is read and cached on the way
	counting.Store(true)
	if !bytes.Equal(download(), committed) {
		t.Fatal("two downloads differ")
	}
	counting.Store(false)
	t.Logf("requests of a download: %v", ops)
	if ops["list_versions"] > 1 || ops["get_version"] > 1 {
		t.Errorf("a download made %v: the PDF's versions were listed to find the first", ops)
	}

	foreign := bytes.Replace(committed, []byte("%%EOF"), []byte("%%EOX"), 1)
	if _, err := base.Client().PutObject(ctx, base.Bucket(), archive.DocumentKey(docID), bytes.NewReader(foreign), int64(len(foreign)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(download(), committed) {
		t.Fatal("the PDF put in front was served")
	}
}
