package keystest_test

import (
	"testing"
	"time"

	"github.com/emmansun/gmsm/smx509"

	"eseal/keys"
	"eseal/keys/keystest"
)

// TestChains: what the PKI issues validates against its root for the usage
// of its kind, directly and through an intermediate.
func TestChains(t *testing.T) {
	root := keystest.New(t, keystest.Options{})
	inter := root.Intermediate(t, "Issuing CA")
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		by    *keystest.PKI
		kind  keys.CertKind
		usage keys.Usage
	}{
		{root, keys.KindSealMaker, keys.UsageSealMaker},
		{root, keys.KindSigner, keys.UsageSign},
		{root, keys.KindTSA, keys.UsageTimestamp},
		{inter, keys.KindSigner, keys.UsageSign},
	} {
		_, cert := c.by.Issue(t, c.kind, c.kind.String())
		if _, err := root.TrustStore().Verify(cert, []*smx509.Certificate{inter.CA.Cert}, at, c.usage); err != nil {
			t.Errorf("%s: %v", c.kind, err)
		}
	}
}

// TestOptions: the organisation and validity asked for are the root's.
func TestOptions(t *testing.T) {
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	p := keystest.New(t, keystest.Options{Org: "测试局", NotBefore: from, NotAfter: from.Add(time.Hour)})
	c := p.CA.Cert
	if c.Subject.Organization[0] != "测试局" || !c.NotBefore.Equal(from) || !c.NotAfter.Equal(from.Add(time.Hour)) {
		t.Fatalf("root %s, %v to %v", c.Subject, c.NotBefore, c.NotAfter)
	}
	if _, leaf := p.Issue(t, keys.KindSigner, "签章人"); !leaf.NotAfter.Equal(c.NotAfter) {
		t.Fatalf("leaf until %v, root until %v", leaf.NotAfter, c.NotAfter)
	}
}
