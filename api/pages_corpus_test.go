package api

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http/httptest"
	"strings"
	"testing"

	"eseal/archive"
	"eseal/archive/fs"
	"eseal/keys"
	"eseal/pdf/attack"
	"eseal/seal"
)

// TestVerifyPageAttackCorpus: for every file of the attack corpus, the
// verify page shows what POST /v1/verify answers — the verdict, "with
// changes after signing", and each later change with whether it is allowed.
func TestVerifyPageAttackCorpus(t *testing.T) {
	ctx := context.Background()
	store, err := fs.New(t.TempDir(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kek, _, err := keys.NewKEK()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := seal.InitOrg(ctx, store, kek, "测试市行政审批服务局", seal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: "行政审批专用章", Type: seal.TypeApproval})
	if err != nil {
		t.Fatal(err)
	}
	in := attack.Input()
	res, err := (&seal.Stamper{Registry: reg}).Stamp(ctx, bytes.NewReader(in), int64(len(in)), seal.SignRequest{
		SealID: sl.ID, Placement: seal.Placement{Page: 1, XMM: 100, YMM: 150}})
	if err != nil {
		t.Fatal(err)
	}
	signed := append(append([]byte{}, in...), res.Update...)
	cases, err := attack.Build(signed)
	if err != nil {
		t.Fatal(err)
	}
	res, err = (&seal.Stamper{Registry: reg}).Stamp(ctx, bytes.NewReader(signed), int64(len(signed)), seal.SignRequest{
		SealID: sl.ID, Placement: seal.Placement{Page: 1, XMM: 20, YMM: 200}})
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, attack.Case{Name: "second-seal", PDF: append(append([]byte{}, signed...), res.Update...), Want: attack.Allowed})
	srv, err := New(Options{Registry: reg, Store: store, Service: &seal.Service{Registry: reg, Store: store},
		Limits: Limits{MaxPDFBytes: 8 << 20, MaxJSONBytes: 64 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest("POST", "/v1/verify", bytes.NewReader(c.PDF))
			r.Header.Set("Content-Type", "application/pdf")
			h.ServeHTTP(w, r)
			var rep seal.Report
			if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &rep) != nil {
				t.Fatalf("POST /v1/verify: %d %s", w.Code, w.Body)
			}
			pw := httptest.NewRecorder()
			renderPage(pw, 200, "verify", pageData{Record: &archive.Record{Title: c.Name}, Report: &rep})
			page := pw.Body.String()
			want := map[attack.Expect]string{attack.Tampered: "无效 INVALID", attack.Allowed: "有效 VALID，签章后有修订 (with changes after signing)"}[c.Want]
			if !strings.Contains(page, want) {
				t.Fatalf("the page does not say %q (%s):\n%s", want, rep.Summary, page)
			}
			n := 0
			for _, s := range rep.Signatures {
				for _, lc := range s.LaterChanges {
					verdict := "允许 allowed"
					if !lc.Allowed {
						verdict = "不允许 NOT ALLOWED"
					}
					if !strings.Contains(page, html.EscapeString(lc.Detail)+"</td><td>"+verdict) {
						t.Fatalf("the page lacks the later change %q (%s):\n%s", lc.Detail, verdict, page)
					}
					n++
				}
			}
			if c.Want == attack.Allowed && n == 0 {
				t.Fatalf("an allowed addition with no later change listed: %+v", rep)
			}
		})
	}
}
