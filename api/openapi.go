package api

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.yaml
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(openapiDoc)
}
