// Package miniotest runs a real MinIO server on loopback for tests.
//
// The server binary is not vendored: MinIO ships source only, so it is built
// once with scripts/minio.sh (go install, about six minutes) into
// $HOME/.cache/eseal/bin. Tests that need it are skipped when it is missing,
// unless ESEAL_REQUIRE_TOOLS=1, which turns the skip into a failure (CI).
package miniotest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer its health check.
const startTimeout = 60 * time.Second

// Binary returns the path of the MinIO server binary: $ESEAL_MINIO, else
// $HOME/.cache/eseal/bin/minio, else $(go env GOPATH)/bin/minio; or an
// error saying where it looked.
func Binary() (string, error) {
	if p := os.Getenv("ESEAL_MINIO"); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("ESEAL_MINIO=%s is not an executable file", p)
	}
	var tried []string
	if home, err := os.UserHomeDir(); err == nil {
		tried = append(tried, filepath.Join(home, ".cache", "eseal", "bin", "minio"))
	}
	tried = append(tried, "/root/.cache/eseal/bin/minio")
	if gopath := goPath(); gopath != "" {
		tried = append(tried, filepath.Join(gopath, "bin", "minio"))
	}
	for _, p := range tried {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no minio binary (looked in $ESEAL_MINIO, %s); build it with scripts/minio.sh", strings.Join(tried, ", "))
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func goPath() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return filepath.SplitList(p)[0]
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// Server is a running MinIO server.
type Server struct {
	// Endpoint is 127.0.0.1:PORT of the S3 API.
	Endpoint string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string

	cmd     *exec.Cmd
	dir     string // removed on Stop if owned
	ownsDir bool
	log     *bytes.Buffer
	exited  chan struct{}
}

// Start runs a MinIO server for this test, stopped in t.Cleanup. It skips
// the test if there is no binary (fails it if ESEAL_REQUIRE_TOOLS=1).
func Start(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	srv := StartOwn(t)
	return srv.Endpoint, srv.AccessKey, srv.SecretKey
}

// StartOwn is Start returning the server itself (for its CPUTime).
func StartOwn(t testing.TB) *Server {
	t.Helper()
	bin := binaryOrSkip(t)
	srv, err := StartServer(bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// StartShared returns a MinIO server shared by every test in this test
// binary, starting it on first use. Stop it with StopShared from TestMain,
// or let Main do it; on Linux it also dies with the test process.
func StartShared(t testing.TB) (endpoint, accessKey, secretKey string) {
	t.Helper()
	bin := binaryOrSkip(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = StartServer(bin, "")
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.srv.Endpoint, shared.srv.AccessKey, shared.srv.SecretKey
}

// CPUTime is the CPU time the server has used so far, user and system:
// what a benchmark divides by its operations to show MinIO's own cost.
func (s *Server) CPUTime() (time.Duration, error) { return cpuTime(s.cmd.Process.Pid) }

// SharedCPUTime is CPUTime of the shared server (StartShared).
func SharedCPUTime() (time.Duration, error) {
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil {
		return 0, errors.New("miniotest: no shared server")
	}
	return shared.srv.CPUTime()
}

// StopShared stops the shared server, if it was started.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.srv != nil {
		shared.srv.Stop()
		shared.srv = nil
	}
}

// Main runs the tests and stops the shared server; use it as
//
//	func TestMain(m *testing.M) { miniotest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

func binaryOrSkip(t testing.TB) string {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return bin
}

// StartServer starts the MinIO binary bin with its data in dataDir (a new
// temporary directory, removed on Stop, if dataDir is empty) on free
// loopback ports, and waits until it is live. A port taken between choosing
// and binding it makes the start fail; StartServer then tries again.
func StartServer(bin, dataDir string) (*Server, error) {
	var err error
	for range 3 {
		var srv *Server
		srv, err = startOnce(bin, dataDir)
		if err == nil {
			return srv, nil
		}
	}
	return nil, err
}

func startOnce(bin, dataDir string) (*Server, error) {
	ownsDir := dataDir == ""
	if ownsDir {
		d, err := os.MkdirTemp("", "eseal-minio-")
		if err != nil {
			return nil, err
		}
		dataDir = d
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	srv := &Server{
		Endpoint:  "127.0.0.1:" + strconv.Itoa(ports[0]),
		AccessKey: "eseal-" + randomHex(4),
		SecretKey: randomHex(16),
		dir:       dataDir,
		ownsDir:   ownsDir,
		log:       new(bytes.Buffer),
		exited:    make(chan struct{}),
	}
	cmd := exec.Command(bin, "server", "--quiet",
		"--address", srv.Endpoint,
		"--console-address", "127.0.0.1:"+strconv.Itoa(ports[1]),
		filepath.Join(dataDir, "data"))
	cmd.Env = append(withoutMinioEnv(os.Environ()),
		"MINIO_ROOT_USER="+srv.AccessKey,
		"MINIO_ROOT_PASSWORD="+srv.SecretKey,
		"MINIO_UPDATE=off",
		"MINIO_BROWSER=off",
	)
	cmd.Stdout = &lockedWriter{w: srv.log}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		srv.removeDir()
		return nil, fmt.Errorf("miniotest: start %s: %w", bin, err)
	}
	srv.cmd = cmd
	go func() { cmd.Wait(); close(srv.exited) }()
	if err := srv.waitLive(); err != nil {
		srv.Stop()
		return nil, fmt.Errorf("miniotest: %w\nminio output:\n%s", err, srv.output())
	}
	return srv, nil
}

// waitLive polls the liveness endpoint, then the cluster endpoint, until
// both answer 200. Liveness alone is not enough: it answers 200 before the
// object layer, bucket metadata and IAM are up, when S3 calls still fail
// with "Server not initialized yet".
func (s *Server) waitLive() error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for _, path := range []string{"/minio/health/live", "/minio/health/cluster"} {
		for {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not answering 200 after %v", path, startTimeout)
			}
			select {
			case <-s.exited:
				return errors.New("minio exited during start-up")
			default:
			}
			resp, err := client.Get("http://" + s.Endpoint + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop stops the server by its process id — SIGTERM, then SIGKILL after
// five seconds — and removes its data if Start created the directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(5 * time.Second):
				s.cmd.Process.Kill()
				<-s.exited
			}
		}
	}
	s.removeDir()
}

func (s *Server) removeDir() {
	if s.ownsDir {
		os.RemoveAll(s.dir)
	}
}

func (s *Server) output() string {
	w := s.cmd.Stdout.(*lockedWriter)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.String()
}

// freePorts asks the kernel for n distinct free loopback ports.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// withoutMinioEnv drops MINIO_* variables from the environment, so a
// developer's settings cannot change the test server.
func withoutMinioEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "MINIO_") {
			out = append(out, kv)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
