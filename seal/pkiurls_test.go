package seal_test

import (
	"context"
	"testing"

	"eseal/archive/fs"
	"eseal/keys"
	"eseal/seal"
)

// TestCertificatesNameWhereRevocationIs: with a public URL, the signer and
// TSA certificates name the CRL and the root certificate under it, so a
// relying party can fetch revocation data itself; without one they name
// nothing.
func TestCertificatesNameWhereRevocationIs(t *testing.T) {
	ctx := context.Background()
	for _, public := range []string{"https://eseal.example.gov.cn/", ""} {
		store, err := fs.New(t.TempDir(), fs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		kek, _, err := keys.NewKEK()
		if err != nil {
			t.Fatal(err)
		}
		reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{PublicURL: public})
		if err != nil {
			t.Fatal(err)
		}
		s, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章"})
		if err != nil {
			t.Fatal(err)
		}
		chain, err := reg.Chain(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		certs, err := keys.ParseCertificatesPEM(chain)
		if err != nil {
			t.Fatal(err)
		}
		tsa, err := reg.TSA(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string][]string{
			"signer CRL": certs[0].CRLDistributionPoints, "signer issuer": certs[0].IssuingCertificateURL,
			"TSA CRL": tsa.Cert.CRLDistributionPoints, "TSA issuer": tsa.Cert.IssuingCertificateURL,
		} {
			want := map[bool]string{true: "https://eseal.example.gov.cn" + seal.CRLPath, false: "https://eseal.example.gov.cn" + seal.RootPath}[name[len(name)-3:] == "CRL"]
			switch {
			case public == "" && len(c) != 0:
				t.Errorf("without a public URL, %s names %v", name, c)
			case public != "" && (len(c) != 1 || c[0] != want):
				t.Errorf("%s: %v, want [%s]", name, c, want)
			}
		}
		crl, err := reg.CRL(ctx)
		if err != nil || len(crl) == 0 {
			t.Fatalf("the root's CRL: %v", err)
		}
	}
}
