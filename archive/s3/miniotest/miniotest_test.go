package miniotest_test

import (
	"net/http"
	"testing"
	"time"

	"eseal/archive/s3/miniotest"
)

// TestStartStop: Start serves S3 until the test ends, then the process is
// gone.
func TestStartStop(t *testing.T) {
	var endpoint string
	t.Run("server", func(t *testing.T) {
		endpoint, _, _ = miniotest.Start(t)
		resp, err := http.Get("http://" + endpoint + "/minio/health/cluster")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("cluster health: %s", resp.Status)
		}
	})
	if endpoint == "" {
		return // skipped: no binary
	}
	client := &http.Client{Timeout: time.Second}
	if resp, err := client.Get("http://" + endpoint + "/minio/health/live"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answering after its test ended")
	}
}

func TestMissingBinarySkips(t *testing.T) {
	t.Setenv("ESEAL_MINIO", "/nonexistent/minio")
	t.Setenv("ESEAL_REQUIRE_TOOLS", "")
	if _, err := miniotest.Binary(); err == nil {
		t.Fatal("Binary found a nonexistent ESEAL_MINIO")
	}
	ok := t.Run("inner", func(t *testing.T) {
		miniotest.Start(t)
		t.Error("Start returned without a binary")
	})
	if !ok {
		t.Error("inner test failed instead of being skipped")
	}
}
