package transfer_test

import (
	"bufio"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	tjsm3 "github.com/tjfoc/gmsm/sm3"
)

// extract unpacks the package into dir and returns the bag directory.
func extract(t *testing.T, pkg []byte, dir string) string {
	t.Helper()
	p := unzip(t, pkg)
	for _, n := range p.names {
		dst := filepath.Join(dir, p.root, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, p.data[n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, p.root)
}

// validateBag is a BagIt validator written here from RFC 8493's rules,
// sharing no code with the package: §2.1.1 the declaration, §2.1.2 the
// payload directory, §2.1.3 and §3 every payload manifest complete and
// correct, §2.2.1 tag manifests correct, §2.2.2 Payload-Oxum.
func validateBag(bag string) error {
	decl, err := os.ReadFile(filepath.Join(bag, "bagit.txt"))
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(decl), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "BagIt-Version: ") || lines[1] != "Tag-File-Character-Encoding: UTF-8" {
		return fmt.Errorf("bagit.txt: %q", decl)
	}
	if fi, err := os.Stat(filepath.Join(bag, "data")); err != nil || !fi.IsDir() {
		return fmt.Errorf("no payload directory")
	}
	algs := map[string]func() hash.Hash{"md5": md5.New, "sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New, "sm3": tjsm3.New}
	var payload []string
	var octets int64
	err = filepath.WalkDir(filepath.Join(bag, "data"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(bag, p)
		payload = append(payload, filepath.ToSlash(rel))
		fi, _ := d.Info()
		octets += fi.Size()
		return nil
	})
	if err != nil {
		return err
	}
	entries, _ := os.ReadDir(bag)
	manifests := 0
	for _, e := range entries {
		name := e.Name()
		var alg string
		tag := strings.HasPrefix(name, "tagmanifest-")
		switch {
		case strings.HasPrefix(name, "manifest-") && strings.HasSuffix(name, ".txt"):
			alg = strings.TrimSuffix(strings.TrimPrefix(name, "manifest-"), ".txt")
			manifests++
		case tag && strings.HasSuffix(name, ".txt"):
			alg = strings.TrimSuffix(strings.TrimPrefix(name, "tagmanifest-"), ".txt")
		default:
			continue
		}
		newHash, ok := algs[alg]
		if !ok {
			return fmt.Errorf("%s: unknown algorithm", name)
		}
		f, err := os.Open(filepath.Join(bag, name))
		if err != nil {
			return err
		}
		listed := map[string]bool{}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) != 2 {
				f.Close()
				return fmt.Errorf("%s: line %q", name, sc.Text())
			}
			p := fields[1]
			if strings.Contains(p, "..") || strings.HasPrefix(p, "/") || (!tag && !strings.HasPrefix(p, "data/")) {
				f.Close()
				return fmt.Errorf("%s: path %q", name, p)
			}
			b, err := os.ReadFile(filepath.Join(bag, filepath.FromSlash(p)))
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", name, err)
			}
			h := newHash()
			h.Write(b)
			if hex.EncodeToString(h.Sum(nil)) != strings.ToLower(fields[0]) {
				f.Close()
				return fmt.Errorf("%s: %s does not match", name, p)
			}
			listed[p] = true
		}
		f.Close()
		if !tag {
			for _, p := range payload {
				if !listed[p] {
					return fmt.Errorf("%s: %s not listed", name, p)
				}
			}
		}
	}
	if manifests == 0 {
		return fmt.Errorf("no payload manifest")
	}
	info, err := os.ReadFile(filepath.Join(bag, "bag-info.txt"))
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "Payload-Oxum: "); ok {
			o, c, _ := strings.Cut(v, ".")
			if o != strconv.FormatInt(octets, 10) || c != strconv.Itoa(len(payload)) {
				return fmt.Errorf("Payload-Oxum %s, payload %d.%d", v, octets, len(payload))
			}
		}
	}
	return nil
}

func TestBagValidRFC8493(t *testing.T) {
	e := getEnv(t)
	bag := extract(t, e.pkg, t.TempDir())
	if err := validateBag(bag); err != nil {
		t.Fatal(err)
	}
	// And the validator is not blind: a changed payload file fails it.
	ref := unzip(t, e.pkg).item(t, 3)
	f := filepath.Join(bag, "data", ref, ref+".xml")
	b, _ := os.ReadFile(f)
	_ = os.WriteFile(f, append(b, ' '), 0o644)
	if err := validateBag(bag); err == nil {
		t.Fatal("the RFC 8493 validator accepts a changed file")
	}
}

// TestZipToolsAccept runs other ZIP readers over the package: Info-ZIP's
// unzip -t and Python's zipfile, where installed.
func TestZipToolsAccept(t *testing.T) {
	e := getEnv(t)
	f := filepath.Join(t.TempDir(), "pkg.zip")
	if err := os.WriteFile(f, e.pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, cmd := range [][]string{{"unzip", "-tqq", f}, {"python3", "-m", "zipfile", "-t", f}} {
		if _, err := exec.LookPath(cmd[0]); err != nil {
			continue
		}
		ran++
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(cmd, " "), err, out)
		}
	}
	if ran == 0 {
		skipOrFail(t, "neither unzip nor python3 is installed")
	}
}

// bagitFSScript verifies every payload file of a bag with the npm package
// bagit-fs (an independent BagIt implementation) against manifest-sha256.txt,
// and that the manifest lists exactly the files under data/.
const bagitFSScript = `
const path = require('path'), fs = require('fs');
const BagIt = require('bagit-fs');
const dir = process.argv[2];
const bag = BagIt(dir, 'sha256');
function walk(d) { return fs.readdirSync(d, {withFileTypes: true}).flatMap(e => e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)]); }
const files = walk(path.join(dir, 'data')).map(f => path.relative(path.join(dir, 'data'), f).split(path.sep).join('/'));
bag.readManifest((err, entries) => {
  if (err) { console.error(err.message); process.exit(1); }
  entries = entries.filter(e => e.name);
  if (entries.length !== files.length) { console.error('manifest lists ' + entries.length + ' files, data/ holds ' + files.length); process.exit(1); }
  let left = files.length;
  for (const f of files) {
    bag.readFile(f, (err) => {
      if (err) { console.error(f + ': ' + err.message); process.exit(1); }
      if (--left === 0) { console.log('bagit-fs: ' + files.length + ' payload files verified'); }
    });
  }
});
`

func TestBagitFSAccepts(t *testing.T) {
	if testing.Short() {
		t.Skip("installs an npm package")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, tool+" not installed")
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	mod := filepath.Join(cache, "eseal-test", "bagit-fs")
	if _, err := os.Stat(filepath.Join(mod, "node_modules", "bagit-fs", "index.js")); err != nil {
		if err := os.MkdirAll(mod, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", mod, "bagit-fs@1.1.1")
		done := make(chan struct{})
		go func() {
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				_ = cmd.Process.Kill()
			}
		}()
		out, err := cmd.CombinedOutput()
		close(done)
		if err != nil {
			skipOrFail(t, fmt.Sprintf("npm install bagit-fs failed (the RFC 8493 validator in this package still runs): %v\n%s", err, out))
		}
	}
	e := getEnv(t)
	bag := extract(t, e.pkg, t.TempDir())
	script := filepath.Join(t.TempDir(), "verify.js")
	if err := os.WriteFile(script, []byte(bagitFSScript), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() ([]byte, error) {
		cmd := exec.Command("node", script, bag)
		cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(mod, "node_modules"))
		return cmd.CombinedOutput()
	}
	out, err := run()
	if err != nil || !strings.Contains(string(out), "payload files verified") {
		t.Fatalf("bagit-fs rejects the package: %v\n%s", err, out)
	}
	t.Logf("%s", strings.TrimSpace(string(out)))
	// bagit-fs notices a changed file too.
	ref := unzip(t, e.pkg).item(t, 9)
	f := filepath.Join(bag, "data", ref, ref+".pdf")
	b, _ := os.ReadFile(f)
	b[100] ^= 1
	_ = os.WriteFile(f, b, 0o644)
	if out, err := run(); err == nil {
		t.Fatalf("bagit-fs accepts a changed PDF:\n%s", out)
	}
}

// skipOrFail skips a test whose outside tool is missing, unless
// ESEAL_REQUIRE_TOOLS=1 (make test) says the tool must be there.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("ESEAL_REQUIRE_TOOLS") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}
