package api_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"
)

// TestOpenAPIMatchesRoutes checks that /openapi.yaml is a valid OpenAPI
// document and describes exactly the routes the server has.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/openapi.yaml", "", "", nil)
	if r.status != 200 {
		t.Fatalf("GET /openapi.yaml: %d", r.status)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}

	served := map[string]bool{}
	router := serverRouter(t, e)
	err = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			served[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not in /openapi.yaml: %v\ndocumented but not served: %v", missing, extra)
	}

	// Every documented public GET answers something other than 404/405 for
	// its own shape (with placeholder parameters some give 404 problems, which
	// must still be problem+json).
	for k := range documented {
		method, path, _ := strings.Cut(k, " ")
		if method != http.MethodGet || strings.HasPrefix(path, "/v1/") {
			continue
		}
		p := strings.NewReplacer("{slug}", "not-found", "{code}", "AAAA-BBBB", "{doc_id}", "doc-aaaaaaaaaaaaaaaa").Replace(path)
		r := e.do("GET", (&url.URL{Path: p}).String(), "", "", nil)
		if r.status == 405 {
			t.Errorf("GET %s: 405", p)
		}
	}
}
