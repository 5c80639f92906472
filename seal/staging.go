package seal

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emmansun/gmsm/sm3"

	"eseal/archive"
	"eseal/archive/audit"
)

// A stamping's staging: one object, pending/<doc>.stage, holding the
// pending entry and every object the stamping will store once it commits —
// the signed PDF, its SES_Signatures, its record — byte for byte. Nothing
// is written under docs/ before the commit: an uncommitted stamping leaves
// one object, which the recovery sweep (or the stamping itself) removes;
// a committed one is finished by writing each object once, locked in its
// put, from these bytes (Service.finish). Before 2026-12-02 the PDF and
// the record were staged in place, unlocked, and locked after the commit
// (two writes each); stampings staged that way have a pending/<doc>.json
// marker, which the sweep still finishes. The format is in
// docs/formats.md.

// stagingMagic opens a staging object; its header follows on one line.
const stagingMagic = "eseal staging 1\n"

// stagingSuffix ends the key of a staging object; markerSuffix the key of
// a pending marker of the earlier layout, with nothing staged in it.
const (
	stagingSuffix = ".stage"
	markerSuffix  = ".json"
)

// maxStagingHeader bounds the header line of a staging object.
const maxStagingHeader = 1 << 20

// maxStagingBytes bounds the objects of a staging read into memory: a
// signed PDF of the largest size a deployment would accept, and its
// SES_Signatures and record.
const maxStagingBytes = 1 << 30

// stagingKey is where a stamping's staging object is kept.
func stagingKey(docID string) string { return pendingPrefix + docID + stagingSuffix }

// stagingHeader is the first line of a staging object after the magic.
type stagingHeader struct {
	Entry   pendingEntry    `json:"entry"`
	Objects []stagedSummary `json:"objects"`
}

// stagedSummary describes one staged object: its key, size and SM3, in the
// order the bytes follow the header.
type stagedSummary struct {
	Key  string `json:"key"`
	Size int    `json:"size"`
	SM3  string `json:"sm3"`
}

// StagingError says a staging object cannot be read: it is not one, or its
// bytes are not those its header describes (changed in the store).
type StagingError struct {
	Key    string
	Reason string
}

func (e *StagingError) Error() string { return e.Key + ": not a staging object: " + e.Reason }

// stagingReader streams the staging object of entry and objs without
// copying the objects into one buffer (the PDF may be tens of MB); size is
// its length.
func stagingReader(entry pendingEntry, objs []stagedObject) (r io.Reader, size int64) {
	h := stagingHeader{Entry: entry}
	for _, o := range objs {
		sum := o.sm3
		if sum == "" {
			b := sm3.Sum(o.data)
			sum = hex.EncodeToString(b[:])
		}
		h.Objects = append(h.Objects, stagedSummary{Key: o.key, Size: len(o.data), SM3: sum})
	}
	head, err := json.Marshal(h)
	if err != nil {
		panic("seal: a staging header does not marshal: " + err.Error()) // plain data: cannot happen
	}
	parts := []io.Reader{strings.NewReader(stagingMagic), bytes.NewReader(append(head, '\n'))}
	size = int64(len(stagingMagic) + len(head) + 1)
	for _, o := range objs {
		parts = append(parts, bytes.NewReader(o.data))
		size += int64(len(o.data))
	}
	return io.MultiReader(parts...), size
}

// parseStaging reads a staging object stored under key: its entry and its
// objects, each checked against the size and SM3 the header gives, and each
// a key of the entry's document.
func parseStaging(key string, b []byte) (pendingEntry, []stagedObject, error) {
	return readStaging(key, bytes.NewReader(b), true)
}

// readStaging reads a staging object from r, as parseStaging; without
// withObjects it reads and checks the header alone, and returns no objects.
func readStaging(key string, r io.Reader, withObjects bool) (pendingEntry, []stagedObject, error) {
	fail := func(format string, args ...any) (pendingEntry, []stagedObject, error) {
		return pendingEntry{}, nil, &StagingError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	br := bufio.NewReader(r)
	magic := make([]byte, len(stagingMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != stagingMagic {
		return fail("no %q line", strings.TrimSpace(stagingMagic))
	}
	line, err := readLine(br, maxStagingHeader)
	if err != nil {
		return fail("header line: %v", err)
	}
	var h stagingHeader
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return fail("header: %v", err)
	}
	if !archive.ValidDocumentID(h.Entry.DocumentID) || stagingKey(h.Entry.DocumentID) != key {
		return fail("header names document %q", h.Entry.DocumentID)
	}
	if m := h.Entry.Audit; m != nil && (!audit.ValidNode(m.Node) || m.Block == 0) {
		return fail("header's audit mark names block %d of shard %q", m.Block, m.Node)
	}
	if !withObjects {
		return h.Entry, nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(br, maxStagingBytes+1))
	if err != nil {
		return pendingEntry{}, nil, err
	}
	if len(body) > maxStagingBytes {
		return fail("more than %d bytes", maxStagingBytes)
	}
	prefix := archive.DocumentPrefix(h.Entry.DocumentID)
	var objs []stagedObject
	seen := map[string]bool{}
	for _, s := range h.Objects {
		switch {
		case !strings.HasPrefix(s.Key, prefix) || archive.ValidateKey(s.Key) != nil || seen[s.Key]:
			return fail("object key %q", s.Key)
		case s.Size < 0 || s.Size > len(body):
			return fail("%s: %d bytes, %d left", s.Key, s.Size, len(body))
		}
		seen[s.Key] = true
		data := body[:s.Size:s.Size]
		body = body[s.Size:]
		if sum := sm3.Sum(data); hex.EncodeToString(sum[:]) != s.SM3 {
			return fail("%s: SM3 %x, header %s", s.Key, sum, s.SM3)
		}
		objs = append(objs, stagedObject{key: s.Key, data: data})
	}
	if len(body) != 0 {
		return fail("%d bytes after the last object", len(body))
	}
	if !seen[archive.DocumentKey(h.Entry.DocumentID)] || !seen[archive.RecordKey(h.Entry.DocumentID)] {
		return fail("no PDF or no record of %s", h.Entry.DocumentID)
	}
	return h.Entry, objs, nil
}

// readLine reads up to and without the next "\n", at most max bytes.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max+1 {
			return nil, fmt.Errorf("longer than %d bytes", max)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, errors.New("no end of line")
		default:
			return nil, err
		}
	}
}

// stagedRecord is the record among a staging's objects.
func stagedRecord(docID string, objs []stagedObject) (*archive.Record, []byte, error) {
	for _, o := range objs {
		if o.key == archive.RecordKey(docID) {
			var rec archive.Record
			if err := json.Unmarshal(o.data, &rec); err != nil || rec.DocumentID != docID {
				return nil, nil, fmt.Errorf("staged record of %s: %w", docID, errors.Join(err, archive.ErrAltered))
			}
			return &rec, o.data, nil
		}
	}
	return nil, nil, fmt.Errorf("staged record of %s: %w", docID, archive.ErrNotFound)
}
