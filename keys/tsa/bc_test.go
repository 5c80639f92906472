package tsa

import (
	"context"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// missingTool skips the test, or fails it when ESEAL_REQUIRE_TOOLS=1.
func missingTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
		t.Fatalf(format+" (ESEAL_REQUIRE_TOOLS=1)", args...)
	}
	t.Skipf(format, args...)
}

// bouncyCastle compiles testdata/VerifyTSP.java with the Debian Bouncy
// Castle jars and returns a function that runs it.
func bouncyCastle(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	var tools [2]string
	for i, name := range []string{"javac", "java"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missingTool(t, "%s not found", name)
		}
		tools[i] = p
	}
	var jars []string
	for _, name := range []string{"bcprov", "bcpkix", "bcutil"} {
		var found string
		for _, pat := range []string{"/usr/share/java/" + name + ".jar", "/usr/share/java/" + name + "-*.jar"} {
			if m, _ := filepath.Glob(pat); len(m) > 0 {
				sort.Strings(m)
				found = m[len(m)-1]
				break
			}
		}
		switch {
		case found != "":
			jars = append(jars, found)
		case name != "bcutil": // bcpkix needs bcutil only from 1.69 on
			missingTool(t, "Bouncy Castle %s.jar not found in /usr/share/java (Debian lib%s-java)", name, name)
		}
	}
	cp := strings.Join(jars, string(os.PathListSeparator))
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "VerifyTSP.java"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(tools[0], "-nowarn", "-cp", cp, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac VerifyTSP.java: %v\n%s", err, out)
	}
	classpath := dir + string(os.PathListSeparator) + cp
	return func(args ...string) (string, error) {
		out, err := exec.Command(tools[1], append([]string{"-cp", classpath, "VerifyTSP"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
}

var bcOK = regexp.MustCompile(`^OK genTime=(\S+) imprint=([0-9a-f]+) alg=(\S+) serial=(\d+) nonce=(\S+) policy=(\S+)$`)

// TestBouncyCastle has Bouncy Castle's TSP classes check our tokens
// (TimeStampToken.validate) and act as a client of our server
// (TimeStampResponse.validate against its own request).
func TestBouncyCastle(t *testing.T) {
	bc := bouncyCastle(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.server)
	defer srv.Close()
	imprint := hex.EncodeToString(testDigest)
	wantTime := testNow.Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
	check := func(t *testing.T, out string, err error) []string {
		t.Helper()
		m := bcOK.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("Bouncy Castle: %v\n%s", err, out)
		}
		if m[1] != wantTime || m[2] != imprint || m[3] != "1.2.156.10197.1.401" || m[6] != testPolicy.String() {
			t.Fatalf("Bouncy Castle read %q", out)
		}
		t.Logf("Bouncy Castle: %s", out)
		return m
	}

	der, err := (&Client{URL: srv.URL}).Timestamp(context.Background(), testDigest)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "token.der")
	if err := os.WriteFile(path, der, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Run("token from our client", func(t *testing.T) {
		out, err := bc("token", path, imprint)
		m := check(t, out, err)
		tok, _ := ParseToken(der)
		if m[4] != tok.Serial.String() || m[5] != tok.Info.Nonce.String() {
			t.Fatalf("serial/nonce %s/%s, want %v/%v", m[4], m[5], tok.Serial, tok.Info.Nonce)
		}
	})
	t.Run("BC as the client of our server", func(t *testing.T) {
		out, err := bc("exchange", srv.URL, imprint)
		check(t, out, err)
	})
	t.Run("tampered token fails", func(t *testing.T) {
		tok, _ := ParseToken(der)
		for name, part := range map[string][]byte{"TSTInfo": tok.RawInfo, "signature": tok.SignedData.SignerInfos[0].Signature} {
			bad := []byte(string(der))
			off := strings.Index(string(der), string(part))
			bad[off+len(part)-3] ^= 0x01
			p := filepath.Join(t.TempDir(), "bad.der")
			if err := os.WriteFile(p, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := bc("token", p); err == nil || !strings.HasPrefix(out, "FAIL") {
				t.Fatalf("%s tampered: Bouncy Castle says %s", name, out)
			} else {
				t.Logf("%s tampered: %s", name, out)
			}
		}
	})
}
