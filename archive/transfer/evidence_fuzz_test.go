package transfer

import "testing"

// FuzzReadGrant: the evidence reader never panics on any grant bytes, and
// what it accepts names a well-formed authorization and a seal.
func FuzzReadGrant(f *testing.F) {
	f.Add(uint8(0), []byte("eseal authorization grant v1\nrequest: ar-aaaaaaaaaaaaaaaa\nauthorization: az-aaaaaaaaaaaaaaaa\nseal: seal-1\nseal_name: 章\ncase_no: 2026-1\ntitle: t\ndocument_sm3:\nmax_uses: 1\nrequested_by: x\nrequested_at: 2026-12-01T21:00:00Z\nexpires_at: 2026-12-01T22:00:00Z\nnonce: ABC\n"))
	f.Add(uint8(1), []byte(`{"id":"az-aaaaaaaaaaaaaaaa","seal_id":"seal-1","case_no":"2026-1","method":"api-key"}`))
	f.Add(uint8(0), []byte("eseal authorization grant v1\nauthorization: az-aaaaaaaaaaaaaaaa\nauthorization: az-bbbbbbbbbbbbbbbb\n"))
	f.Add(uint8(2), []byte{})
	f.Fuzz(func(t *testing.T, m uint8, b []byte) {
		method := []string{MethodSM2, MethodAPIKey, "passkey"}[int(m)%3]
		g, err := readGrant(method, b)
		if err != nil {
			if g != nil {
				t.Fatal("facts with an error")
			}
			return
		}
		if !authzIDPattern().MatchString(g.AuthorizationID) || g.SealID == "" {
			t.Fatalf("accepted %+v", g)
		}
	})
}
