package pdf

// What a verifier must know of the bytes appended after a signed revision:
// that each belongs to a well-formed revision the startxref and /Prev chain
// reaches (CheckAppendedAfter), and which revision defines each object
// (revisionOf). ISO 32000-1 §7.5.6 describes the shape of an incremental
// update; anything else appended is what shadow attacks hide in.

import (
	"fmt"
	"sort"
)

// laterSections returns the sections of the chain at or after offset, oldest
// first, each with its revision number (1-based, as Revisions counts) and
// the offset just after its %%EOF.
type laterSection struct {
	*section
	revision int
	eof      int64 // after %%EOF and its end of line; 0 when none follows
}

func (d *Document) laterSections(offset int64) []laterSection {
	revs := d.Revisions()
	chain := map[int64]bool{}
	for _, s := range d.sections {
		chain[s.off] = true
	}
	var out []laterSection
	for _, s := range d.sections {
		if s.off < offset {
			continue
		}
		ls := laterSection{section: s}
		if e, ok := d.revisionEndAfter(s.end, chain); ok {
			ls.eof = e
			ls.revision = sort.Search(len(revs), func(i int) bool { return revs[i] >= e }) + 1
		}
		out = append(out, ls)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].off < out[j].off })
	return out
}

// CheckAppendedAfter checks, as a verifier must, that every byte after
// offset (the end of a signed revision) belongs to a well-formed revision
// reached through startxref and /Prev: each later revision continues the
// chain from the previous one, its body holds only whole indirect objects
// its own cross-reference section lists at their offsets, the section is
// followed by nothing but "startxref N %%EOF" with N the section itself, and
// nothing but white space follows the last %%EOF. The error is an
// *UnaccountedDataError.
func (d *Document) CheckAppendedAfter(offset int64) error {
	unaccounted := func(off int64, format string, args ...any) error {
		return &UnaccountedDataError{Offset: off, Reason: fmt.Sprintf(format, args...)}
	}
	if offset <= 0 || offset > d.size {
		return unaccounted(offset, "revision end outside the file")
	}
	// The chain, newest first, must run through the later sections in
	// decreasing file order and then reach the signed revision. (That it
	// reaches the section ending at offset, the caller knows: offset is a
	// revision end, see Revisions, only when it does.)
	for i, s := range d.sections {
		if s.off < offset {
			break
		}
		if i+1 == len(d.sections) {
			return unaccounted(offset, "the /Prev chain does not lead back to the signed revision")
		}
		if d.sections[i+1].off >= s.off {
			return unaccounted(s.off, "the /Prev chain goes forward in the file")
		}
	}
	pos := offset
	for _, s := range d.laterSections(offset) {
		if s.eof == 0 {
			return unaccounted(s.off, "no \"startxref %d %%%%EOF\" after the cross-reference section at %d", s.off, s.off)
		}
		if err := d.checkBody(s, pos); err != nil {
			return err
		}
		if err := d.checkSectionTail(s); err != nil {
			return err
		}
		pos = s.eof
	}
	if end, ok := d.onlyWhiteSpace(pos, d.size); !ok {
		return unaccounted(end, "%d bytes after the last %%%%EOF belong to no revision", d.size-end)
	}
	return nil
}

// onlyWhiteSpace reports whether [from, to) is white space; when not, it
// returns the first other byte's offset.
func (d *Document) onlyWhiteSpace(from, to int64) (int64, bool) {
	l := newLexer(d.r, d.size, from)
	l.skipWSNoComment()
	if l.pos >= to {
		return to, true
	}
	return l.pos, false
}

// checkBody parses the revision body from pos up to the section: whole
// indirect objects only, each listed by this section at its offset.
func (d *Document) checkBody(s laterSection, pos int64) error {
	var xrefStm int64 = -1
	if x, ok := toFloat(s.trailer["XRefStm"]); ok {
		xrefStm = int64(x)
	}
	l := newLexer(d.r, d.size, pos)
	for {
		l.skipWSNoComment()
		if l.pos == s.off {
			return nil
		}
		if l.pos > s.off {
			return &UnaccountedDataError{Offset: pos, Reason: fmt.Sprintf("an object runs into the cross-reference section of revision %d", s.revision)}
		}
		start := l.pos
		ref, ok := d.objectHeader(l)
		if !ok {
			return &UnaccountedDataError{Offset: start, Reason: fmt.Sprintf("bytes in revision %d that are not an indirect object", s.revision)}
		}
		if err := d.skipObjectBody(l, ref); err != nil {
			return &UnaccountedDataError{Offset: start, Reason: fmt.Sprintf("object %d in revision %d is malformed: %v", ref.Num, s.revision, err)}
		}
		if e, ok := s.entries[ref.Num]; (!ok || e.typ != 1 || e.off != start) && start != xrefStm {
			return &UnaccountedDataError{Offset: start, Reason: fmt.Sprintf("object %d in revision %d is not in that revision's cross-reference section (a shadow object)", ref.Num, s.revision)}
		}
		pos = l.pos
	}
}

// skipObjectBody parses what follows "n g obj" through endobj.
func (d *Document) skipObjectBody(l *lexer, ref Ref) error {
	save := l.pos
	if l.keyword() == "endobj" {
		return nil // an empty object: null
	}
	l.pos = save
	o, err := d.parseBody(l, ref)
	if err != nil {
		return err
	}
	if st, ok := o.(*Stream); ok {
		l.pos = st.Offset + st.Length
		return d.skipStreamEnd(l)
	}
	l.skipWSNoComment()
	if k := l.keyword(); k != "endobj" {
		return fmt.Errorf("no endobj (found %q)", k)
	}
	return nil
}

// checkSectionTail checks that only "startxref N %%EOF" follows the section
// (for a cross-reference stream: the end of its object first).
func (d *Document) checkSectionTail(s laterSection) error {
	l := newLexer(d.r, d.size, s.section.end)
	if s.stream {
		if err := d.skipStreamEnd(l); err != nil {
			return &UnaccountedDataError{Offset: s.section.end, Reason: fmt.Sprintf("cross-reference stream of revision %d: %v", s.revision, err)}
		}
	}
	l.skipWSNoComment()
	at := l.pos
	if l.keyword() != "startxref" {
		return &UnaccountedDataError{Offset: at, Reason: fmt.Sprintf("bytes between the cross-reference section of revision %d and its startxref", s.revision)}
	}
	if v, ok := l.integer(); !ok || v != s.off {
		return &UnaccountedDataError{Offset: at, Reason: fmt.Sprintf("the startxref after revision %d does not point at its cross-reference section", s.revision)}
	}
	return nil
}

// skipStreamEnd reads, from the end of a stream's data, "endstream" and
// "endobj" and nothing else between.
func (d *Document) skipStreamEnd(l *lexer) error {
	if l.at(l.pos) == '\r' {
		l.pos++
	}
	if l.at(l.pos) == '\n' {
		l.pos++
	}
	l.skipWSNoComment()
	if k := l.keyword(); k != "endstream" {
		return fmt.Errorf("stream data does not end at /Length (found %q)", k)
	}
	l.skipWSNoComment()
	if k := l.keyword(); k != "endobj" {
		return fmt.Errorf("no endobj (found %q)", k)
	}
	return nil
}
