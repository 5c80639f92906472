package archive

import (
	"fmt"
	"strings"
)

// MaxKeyLen is the longest key, in bytes, that a Store accepts.
const MaxKeyLen = 512

// KeyError reports an invalid key or list prefix. Backends return it before
// doing any I/O, so a key like "../x" never reaches a filesystem path.
type KeyError struct {
	// Key is the rejected key or prefix.
	Key string
	// Reason says what is wrong with it.
	Reason string
}

// Error names the key and the reason.
func (e *KeyError) Error() string {
	return fmt.Sprintf("archive: invalid key %q: %s", e.Key, e.Reason)
}

// ValidateKey reports whether key is a valid object key: segments of
// [a-zA-Z0-9._-] separated by "/", no empty, "." or ".." segment, and at
// most MaxKeyLen bytes. It returns a *KeyError if not.
func ValidateKey(key string) error {
	if key == "" {
		return &KeyError{Key: key, Reason: "empty"}
	}
	if len(key) > MaxKeyLen {
		return &KeyError{Key: key, Reason: fmt.Sprintf("longer than %d bytes", MaxKeyLen)}
	}
	for seg := range strings.SplitSeq(key, "/") {
		if err := validateSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// ValidatePrefix reports whether prefix is a valid List prefix: empty, or
// the beginning of a valid key. Every segment but the last must be a valid
// segment; the last may be empty (a prefix ending in "/") or partial.
func ValidatePrefix(prefix string) error {
	if len(prefix) > MaxKeyLen {
		return &KeyError{Key: prefix, Reason: fmt.Sprintf("longer than %d bytes", MaxKeyLen)}
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		if i == len(segs)-1 {
			if i > 0 || seg != "" {
				if err := validateChars(prefix, seg); err != nil {
					return err
				}
			}
			break
		}
		if err := validateSegment(prefix, seg); err != nil {
			return err
		}
	}
	return nil
}

func validateSegment(key, seg string) error {
	switch seg {
	case "":
		return &KeyError{Key: key, Reason: "empty path segment"}
	case ".", "..":
		return &KeyError{Key: key, Reason: fmt.Sprintf("%q path segment", seg)}
	}
	return validateChars(key, seg)
}

func validateChars(key, seg string) error {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return &KeyError{Key: key, Reason: fmt.Sprintf("byte %q not allowed (only a-z A-Z 0-9 . _ - and / between segments)", c)}
	}
	return nil
}
