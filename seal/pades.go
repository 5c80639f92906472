package seal

// PAdES baseline levels (ETSI EN 319 142-1) a verified document reaches.

import (
	"io"

	"eseal/pdf"
)

// PAdES baseline levels.
const (
	PAdESBB   = "B-B"
	PAdESBT   = "B-T"
	PAdESBLT  = "B-LT"
	PAdESBLTA = "B-LTA"
)

// padesLevels sets the PAdESLevel of every "pades" signature not INVALID:
// B-B when its ESS signing-certificate-v2 names the signer and it has no
// CMS signingTime; B-T with a valid signature timestamp or a valid document
// timestamp after it; B-LT when the document security store carries
// validation data as well; B-LTA when a valid document timestamp after it
// covers a revision that already had the store.
func padesLevels(r io.ReaderAt, revs []int64, reps []SignatureReport) {
	for i := range reps {
		sr := &reps[i]
		if sr.Profile != string(ProfilePAdES) || sr.Verdict == Invalid ||
			checkResult(sr, "signing certificate") != Pass || checkResult(sr, "signing time") == Warn {
			continue
		}
		var docTS []int // revisions of valid document timestamps after it
		for _, o := range reps {
			if o.Kind == KindDocTimestamp && o.Verdict == Valid && o.Revision > sr.Revision {
				docTS = append(docTS, o.Revision)
			}
		}
		sr.PAdESLevel = PAdESBB
		if checkResult(sr, "timestamp") != Pass && len(docTS) == 0 {
			continue
		}
		sr.PAdESLevel = PAdESBT
		if checkResult(sr, "validation data") != Pass {
			continue
		}
		sr.PAdESLevel = PAdESBLT
		for _, rev := range docTS {
			if hasDSS(r, revs[rev-2]) {
				sr.PAdESLevel = PAdESBLTA
				break
			}
		}
	}
}

// checkResult is the result of the first check of that name, "" if none.
func checkResult(sr *SignatureReport, name string) CheckResult {
	for _, c := range sr.Checks {
		if c.Name == name {
			return c.Result
		}
	}
	return ""
}

// hasDSS says whether the document as its first end bytes left it has a
// document security store.
func hasDSS(r io.ReaderAt, end int64) bool {
	d, err := pdf.OpenStrict(io.NewSectionReader(r, 0, end), end)
	if err != nil {
		return false
	}
	dss, err := d.DSS()
	return err == nil && dss != nil
}
