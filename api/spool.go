package api

import (
	"bytes"
	"errors"
	"hash"
	"io"
	"os"

	"github.com/emmansun/gmsm/sm3"
)

// spooled is a body read once, hashed (SM3) while it was read, and kept for
// random access: in memory while it is small, past that in a temporary file
// that is unlinked as soon as it is made, so nothing is left behind if the
// process dies. The verifier reads it as an io.ReaderAt; the server never
// holds a large body in memory.
type spooled struct {
	io.ReaderAt
	size int64
	sm3  []byte
	// head is the first kilobyte, where a PDF header must be.
	head []byte
	file *os.File
}

// spoolFileError is a failure of the temporary file (a full disk), not of
// the body being read.
type spoolFileError struct{ err error }

func (e *spoolFileError) Error() string { return "spooling to a temporary file: " + e.err.Error() }
func (e *spoolFileError) Unwrap() error { return e.err }

// spoolChunk is the read size while spooling.
const spoolChunk = 32 << 10

// spool reads r to its end. Up to inMemory bytes stay in memory; a longer
// body goes to a temporary file in dir ("" is the system's).
func spool(r io.Reader, dir string, inMemory int64) (*spooled, error) {
	s := &spooled{}
	h := sm3.New()
	var mem []byte
	chunk := make([]byte, spoolChunk)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			if err := s.add(h, &mem, chunk[:n], dir, inMemory); err != nil {
				s.Close()
				return nil, err
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	s.sm3 = h.Sum(nil)
	if s.file == nil {
		s.ReaderAt = bytes.NewReader(mem)
	} else {
		s.ReaderAt = s.file
	}
	return s, nil
}

// add takes one chunk: hashes it, keeps the head, and appends it to memory
// or, once memory would pass its bound, to the temporary file.
func (s *spooled) add(h hash.Hash, mem *[]byte, b []byte, dir string, inMemory int64) error {
	h.Write(b)
	if len(s.head) < 1024 {
		s.head = append(s.head, b[:min(len(b), 1024-len(s.head))]...)
	}
	s.size += int64(len(b))
	if s.file == nil && s.size <= inMemory {
		*mem = append(*mem, b...)
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp(dir, "eseal-body-*")
		if err != nil {
			return &spoolFileError{err}
		}
		// Unlinked at once: the open file keeps its data until Close.
		_ = os.Remove(f.Name())
		s.file = f
		if _, err := f.Write(*mem); err != nil {
			return &spoolFileError{err}
		}
		*mem = nil
	}
	if _, err := s.file.Write(b); err != nil {
		return &spoolFileError{err}
	}
	return nil
}

// Close releases the temporary file, if there is one.
func (s *spooled) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	_ = os.Remove(s.file.Name()) // where unlinking an open file failed
	s.file = nil
	return err
}
