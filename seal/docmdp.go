package seal

// Certification signatures (ISO 32000-1 §12.8.2.2, DocMDP): the first
// signature of a document may say which later changes it allows — /P 1
// none but validation data and document timestamps, 2 also form filling
// and signing, 3 also annotations.

import (
	"fmt"

	"eseal/pdf"
)

// checkDocMDP reports the certification of the signature c checks and, to
// its list of not-allowed changes, adds the later changes its /P forbids.
// Called with the later changes already listed.
func (v *Verifier) checkDocMDP(c sigCheck, sigs []pdf.Signature, reports []SignatureReport) {
	rep := c.rep
	p := rep.Certification
	if p == 0 {
		return
	}
	var self *pdf.Signature
	for i := range sigs {
		if sigs[i].ByteRange == rep.ByteRange {
			self = &sigs[i]
		}
	}
	if self == nil || !self.DocMDPInForce {
		c.add("certification", Warn, fmt.Sprintf("DocMDP /P %d in the signature, but the catalog's /Perms does not name it: not in force", p))
		return
	}
	for _, o := range reports {
		if o.Revision != 0 && o.Revision < rep.Revision && o.ByteRange != rep.ByteRange {
			c.add("certification", Fail, fmt.Sprintf("DocMDP in a signature of revision %d, after signature %s of revision %d: only the first signature certifies", rep.Revision, o.Field, o.Revision))
			return
		}
	}
	var forbidden []string
	for i, lc := range rep.LaterChanges {
		if (lc.Kind == "annotation" && p < 3) || ((lc.Kind == "form field" || lc.Kind == "signature") && p < 2) {
			forbidden = append(forbidden, fmt.Sprintf("revision %d: %s %s", lc.Revision, lc.Kind, lc.Detail))
			rep.LaterChanges[i].Allowed = false
		}
	}
	if p == 1 {
		for _, o := range reports {
			if o.Revision > rep.Revision && o.Kind != KindDocTimestamp {
				forbidden = append(forbidden, fmt.Sprintf("revision %d: signature %s", o.Revision, o.Field))
			}
		}
	}
	if len(forbidden) > 0 {
		for _, f := range forbidden {
			rep.Changes = append(rep.Changes, "not allowed by the certification (DocMDP /P "+fmt.Sprint(p)+"): "+f)
		}
		return
	}
	c.add("certification", Pass, fmt.Sprintf("certification signature, DocMDP /P %d: %s", p, docMDPAllows[p]))
}

var docMDPAllows = map[int]string{
	1: "no change allowed but validation data and document timestamps",
	2: "form filling and signing allowed",
	3: "form filling, signing and annotations allowed",
}
