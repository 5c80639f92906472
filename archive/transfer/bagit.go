package transfer

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/emmansun/gmsm/sm3"
)

// BagIt (RFC 8493) tag files of the package.
const (
	bagitTxt      = "bagit.txt"
	bagInfoTxt    = "bag-info.txt"
	manifestSHA   = "manifest-sha256.txt"
	manifestSM3   = "manifest-sm3.txt"
	tagmanSHA     = "tagmanifest-sha256.txt"
	tagmanSM3     = "tagmanifest-sm3.txt"
	bagitDeclared = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
)

// fileDigest is what the writer and the checker know about one file.
type fileDigest struct {
	Path   string // relative to the bag directory, "/"-separated
	Size   int64
	SM3    string
	SHA256 string
}

// encodeBagPath percent-encodes what RFC 8493 §2.1.3 asks: CR, LF and %.
func encodeBagPath(p string) string {
	r := strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	return r.Replace(p)
}

func decodeBagPath(p string) string {
	r := strings.NewReplacer("%0D", "\r", "%0d", "\r", "%0A", "\n", "%0a", "\n", "%25", "%")
	return r.Replace(p)
}

// manifest formats "checksum filepath" lines (one space, as every BagIt
// reader splits on it).
func manifest(files []fileDigest, sm bool) []byte {
	var b bytes.Buffer
	for _, f := range files {
		sum := f.SHA256
		if sm {
			sum = f.SM3
		}
		fmt.Fprintf(&b, "%s %s\n", sum, encodeBagPath(f.Path))
	}
	return b.Bytes()
}

// parseManifest reads a manifest: path → lowercase hex digest. It refuses
// duplicates, paths that leave the bag and digests of the wrong length.
func parseManifest(b []byte, hexLen int) (map[string]string, error) {
	out := map[string]string{}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("not UTF-8")
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			continue
		}
		sum, p, ok := strings.Cut(line, " ")
		p = strings.TrimLeft(p, " \t")
		if !ok || p == "" {
			return nil, fmt.Errorf("line %d: want \"checksum path\"", n)
		}
		sum = strings.ToLower(sum)
		if len(sum) != hexLen {
			return nil, fmt.Errorf("line %d: digest of %d hex digits, want %d", n, len(sum), hexLen)
		}
		if _, err := hex.DecodeString(sum); err != nil {
			return nil, fmt.Errorf("line %d: digest is not hex", n)
		}
		p = decodeBagPath(p)
		if !safePath(p) {
			return nil, fmt.Errorf("line %d: path %q leaves the bag or is not clean", n, p)
		}
		if _, dup := out[p]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", n, p)
		}
		out[p] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// parseTagFile reads "Label: value" lines (bagit.txt, bag-info.txt), with
// continuation lines starting with whitespace.
func parseTagFile(b []byte) ([][2]string, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("not UTF-8")
	}
	b = bytes.TrimPrefix(b, []byte("\uFEFF"))
	var out [][2]string
	for i, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(out) == 0 {
				return nil, fmt.Errorf("line %d: continuation without a label", i+1)
			}
			out[len(out)-1][1] += " " + strings.TrimSpace(line)
			continue
		}
		label, value, ok := strings.Cut(line, ":")
		if !ok || label == "" || strings.TrimSpace(label) != label {
			return nil, fmt.Errorf("line %d: want \"Label: value\"", i+1)
		}
		out = append(out, [2]string{label, strings.TrimSpace(value)})
	}
	return out, nil
}

func tagValue(tags [][2]string, label string) (string, int) {
	v, n := "", 0
	for _, t := range tags {
		if strings.EqualFold(t[0], label) {
			v = t[1]
			n++
		}
	}
	return v, n
}

// parseOxum reads "octets.streamcount".
func parseOxum(s string) (octets int64, count int64, err error) {
	a, b, ok := strings.Cut(s, ".")
	if !ok || !digits(a) || !digits(b) {
		return 0, 0, fmt.Errorf("Payload-Oxum %q: want octets.streamcount", s)
	}
	octets, err1 := strconv.ParseInt(a, 10, 64)
	count, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("Payload-Oxum %q: out of range", s)
	}
	return octets, count, nil
}

// bagInfoValue keeps a value on one line.
func bagInfoValue(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// safePath reports whether p is a clean relative "/"-path inside the bag:
// no leading "/", no "." or ".." segment, no backslash, no NUL, valid UTF-8.
func safePath(p string) bool {
	if p == "" || !utf8.ValidString(p) || strings.ContainsAny(p, "\\\x00") || strings.HasPrefix(p, "/") {
		return false
	}
	if path.Clean(p) != p {
		return false
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return false
		}
	}
	// Windows drive letters ("C:x") are as absolute as "/x" to some unzippers.
	return !(len(p) >= 2 && p[1] == ':')
}

// PackageDigest is the SM3 digest the register states: over the lines
// "<sm3 hex> <path>\n" of every payload file outside data/register/, sorted
// by path (bytewise). It covers the description, the catalogue and every
// item's content and metadata.
func PackageDigest(payload map[string]string) string {
	paths := make([]string, 0, len(payload))
	for p := range payload {
		if !strings.HasPrefix(p, RegisterDir) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	h := sm3.New()
	for _, p := range paths {
		fmt.Fprintf(h, "%s %s\n", payload[p], encodeBagPath(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
