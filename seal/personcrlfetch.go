package seal

// Fetching the CRL of a persons' CA. Without a current CRL of its issuer a
// person's certificate can neither be enrolled nor approve (personca.go), so
// a CRL past its nextUpdate would stop every approval until an admin added
// the next one by hand. With fetching on (SetCRLFetch), a check that finds
// no CRL of the issuer, or a stale one, first fetches it from the
// distribution points the certificate names (http and https), at most once
// a minute per CA, and stores it as an admin's would be (AddPersonCRL: its
// signature checked, the newest decides, an audit entry naming the URL).
// What is fetched is trusted for its signature, never for where it came
// from: a wrong or old CRL changes nothing a correct one would not.

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// CRLFetch configures fetching persons' CAs' CRLs. The zero value fetches
// with a client of its own, 10 s a fetch, at most once a minute per CA.
type CRLFetch struct {
	// Client makes the requests; nil is a client without a cookie jar that
	// follows at most 3 redirects, to http or https only.
	Client *http.Client
	// Timeout bounds each fetch, the body read included; 0 is 10 s.
	Timeout time.Duration
	// Every is how often a CA's CRL may be fetched at most; 0 is a minute.
	Every time.Duration
}

// crlFetcher is a Registry's CRL fetching: its configuration and when each
// CA was last tried.
type crlFetcher struct {
	cfg   CRLFetch
	mu    sync.Mutex
	tried map[string]time.Time   // when each CA was last tried (under mu)
	ca    map[string]*sync.Mutex // one fetch at a time per CA
}

// lock takes the CA's fetch lock and reports whether the CA may be tried
// now (it was not tried less than Every ago); unlock releases it.
func (f *crlFetcher) lock(ca string) (ok bool, unlock func()) {
	f.mu.Lock()
	m := f.ca[ca]
	if m == nil {
		m = &sync.Mutex{}
		f.ca[ca] = m
	}
	f.mu.Unlock()
	m.Lock()
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if last, seen := f.tried[ca]; seen && now.Sub(last) < f.cfg.Every {
		return false, m.Unlock
	}
	f.tried[ca] = now
	return true, m.Unlock
}

// maxCRLURLs bounds the distribution points tried for one certificate.
const maxCRLURLs = 3

// SetCRLFetch turns fetching of persons' CAs' CRLs on (nil: off, the
// default). Call before use.
func (r *Registry) SetCRLFetch(f *CRLFetch) {
	if f == nil {
		r.crls = nil
		return
	}
	cfg := *f
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Minute
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirected to a %s URL", req.URL.Scheme)
			}
			return nil
		}}
	}
	r.crls = &crlFetcher{cfg: cfg, tried: map[string]time.Time{}, ca: map[string]*sync.Mutex{}}
}

// fetchCRL fetches the CRL of issuer from the distribution points cert
// names and stores it. It reports whether a CRL was stored (not
// necessarily a newer one); the error says why none was, "" when fetching
// is off, the certificate names no http(s) distribution point, or the CA
// was tried less than CRLFetch.Every ago.
func (r *Registry) fetchCRL(ctx context.Context, issuer, cert *smx509.Certificate) (bool, string) {
	f := r.crls
	if f == nil {
		return false, ""
	}
	var urls []string
	for _, u := range cert.CRLDistributionPoints {
		if p, err := url.Parse(u); err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != "" {
			urls = append(urls, u)
		}
		if len(urls) == maxCRLURLs {
			break
		}
	}
	if len(urls) == 0 {
		return false, ""
	}
	sum := sm3.Sum(issuer.Raw)
	ca := hex.EncodeToString(sum[:])
	ok, unlock := f.lock(ca)
	defer unlock()
	if !ok {
		return false, ""
	}
	var failures []string
	for _, u := range urls {
		der, err := f.get(ctx, u)
		if err == nil {
			_, err = r.AddPersonCRL(ctx, der, "crl-fetch "+u)
		}
		if err == nil {
			return true, ""
		}
		failures = append(failures, u+": "+err.Error())
	}
	return false, "fetching it failed (" + strings.Join(failures, "; ") + ")"
}

// get reads one CRL from u: 200 and at most maxPersonCRL bytes.
func (f *crlFetcher) get(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pkix-crl, application/x-pkcs7-crl;q=0.5, */*;q=0.1")
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPersonCRL+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPersonCRL {
		return nil, fmt.Errorf("larger than %d MiB", maxPersonCRL>>20)
	}
	return b, nil
}

// RefreshPersonCRLs fetches, for every trusted persons' CA, its CRL from the
// distribution points the certificates of its enrolled persons (not
// removed) name, and stores any that verifies (a CRL already stored
// changes nothing). A revocation the CA published then reaches approvals
// at the next refresh rather than when the stored CRL falls due. CAs tried
// less than CRLFetch.Every ago are skipped. It returns how many CAs got a
// CRL and why others did not; it does nothing when fetching is off.
func (r *Registry) RefreshPersonCRLs(ctx context.Context) (int, []string, error) {
	if r.crls == nil {
		return 0, nil, nil
	}
	_, cas, err := r.personTrustStore(ctx)
	if err != nil || len(cas) == 0 {
		return 0, nil, err
	}
	persons, err := r.Persons(ctx, "")
	if err != nil {
		return 0, nil, err
	}
	// One certificate per CA names where its CRL is (the newest enrolled).
	named := map[int]*smx509.Certificate{}
	for _, p := range persons {
		if p.Removed != nil || p.Method != MethodSM2 {
			continue
		}
		c, err := r.PersonCertificate(ctx, p)
		if err != nil || len(c.CRLDistributionPoints) == 0 {
			continue
		}
		for i, ca := range cas {
			if string(c.RawIssuer) == string(ca.RawSubject) && c.CheckSignatureFrom(ca) == nil {
				named[i] = c
			}
		}
	}
	var n int
	var failures []string
	for i, c := range named {
		ok, why := r.fetchCRL(ctx, cas[i], c)
		if ok {
			n++
		} else if why != "" {
			failures = append(failures, cas[i].Subject.String()+": "+why)
		}
	}
	return n, failures, ctx.Err()
}
