package main

// eseal person …: enrol, list and remove a seal's responsible persons; eseal
// approve: a responsible person's desk tool, which signs an authorization
// request's grant bytes with their SM2 key and sends the signature.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"eseal/keys"
	"eseal/seal"
)

func newPersonCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "person", Short: "Enrol, list and remove the responsible persons who approve each use of a seal"}

	var spec seal.PersonSpec
	var certFile, publicURL string
	var addJSON, passkey bool
	add := &cobra.Command{
		Use:   "add --seal ID --name NAME (--cert PERSON.pem | --passkey)",
		Short: "Enrol a responsible person for a seal with their SM2 certificate or a passkey",
		Long: `Enrol a responsible person for a seal. Their SM2 certificate (PEM) is
pinned: their approvals are SM2 signatures that verify with exactly this
certificate, whoever issued it (a self-signed one included).

With --passkey the person is "enrolling" and a one-time enrolment URL is
printed: the person opens it on their phone and registers a passkey there,
then approves each request on its approval page. The URL is under the
service's public URL (--public-url, else ESEAL_PUBLIC_URL, else
http://127.0.0.1:8080), which is also the passkey's relying party: it must
be the URL the person's phone reaches.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if passkey {
				return addPasskeyPerson(cmd, g, spec, publicURL, addJSON)
			}
			if certFile == "" {
				return fmt.Errorf("--cert PERSON.pem or --passkey is required")
			}
			var err error
			if spec.CertPEM, err = os.ReadFile(certFile); err != nil {
				return err
			}
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			spec.By = "cli"
			p, err := reg.EnrolPerson(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if addJSON {
				return printJSON(cmd.OutOrStdout(), map[string]string{"id": p.ID, "seal_id": p.SealID, "name": p.Name, "cert_sm3": p.CertSM3})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s  %s, responsible for %s (certificate %s, SM3 %s)\n", p.ID, p.Name, p.SealID, p.CertSubject, p.CertSM3)
			return nil
		},
	}
	add.Flags().StringVar(&spec.SealID, "seal", "", "the seal the person answers for (required)")
	add.Flags().StringVar(&spec.Name, "name", "", "the person's name (required)")
	add.Flags().StringVar(&certFile, "cert", "", "the person's SM2 certificate, PEM")
	add.Flags().BoolVar(&passkey, "passkey", false, "enrol the person for a passkey they register at a one-time URL")
	add.Flags().StringVar(&publicURL, "public-url", "", "the service's public URL, for the enrolment URL (with --passkey)")
	add.Flags().BoolVar(&addJSON, "json", false, `print {"id", "seal_id", "name", "cert_sm3"}, or with --passkey {"id", "seal_id", "name", "state", "enrolment_url", "expires_at"}`)
	add.MarkFlagsMutuallyExclusive("cert", "passkey")
	for _, f := range []string{"seal", "name"} {
		_ = add.MarkFlagRequired(f)
	}

	var listSeal string
	var listJSON bool
	list := &cobra.Command{
		Use: "list [--seal ID]", Short: "List the responsible persons, removed ones included", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			ps, err := reg.Persons(cmd.Context(), listSeal)
			if err != nil {
				return err
			}
			if listJSON {
				return printJSON(cmd.OutOrStdout(), ps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSEAL\tNAME\tMETHOD\tENROLLED\tREMOVED")
			for _, p := range ps {
				removed := "-"
				if p.Removed != nil {
					removed = p.Removed.Time.Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.SealID, p.Name, p.Method, p.Enrolled.Format(time.DateTime), removed)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&listSeal, "seal", "", "only the persons of this seal")
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	var reason string
	remove := &cobra.Command{
		Use: "remove ID", Short: "Remove a responsible person for good: their later signatures are refused", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			p, err := reg.RemovePerson(cmd.Context(), args[0], reason, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) removed at %s\n", p.ID, p.Name, p.Removed.Time.Format(time.RFC3339))
			return nil
		},
	}
	remove.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")

	cmd.AddCommand(add, list, remove, newPersonCACmd(g), newPersonPasskeyCmd(g))
	return cmd
}

// newPersonCACmd is eseal person ca …: the CAs trusted for persons'
// certificates, and their CRLs.
func newPersonCACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Trust CAs for persons' certificates and add their CRLs",
		Long: `While no CA for persons is trusted, a person's SM2 certificate is pinned at
enrolment whoever issued it (self-signed included). Once one is trusted,
a certificate is enrolled only if it chains to a trusted CA, is valid and
is not revoked by the newest CRL of its issuer; the same is checked again
at each approval. A CA without a current CRL makes its persons unable to
enrol or approve until one is added — or fetched: a check that finds none,
or a stale one, fetches it from the distribution point the certificate
names, serve refreshes them every person_crl_refresh, and "fetch" does it
now (ESEAL_PERSON_CRL_FETCH=off turns fetching off).`,
	}
	var addJSON bool
	add := &cobra.Command{
		Use: "add CA.pem", Short: "Trust a CA for persons' certificates", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, b, err := fileForRegistry(cmd, g, args[0])
			if err != nil {
				return err
			}
			ca, err := reg.AddPersonCA(cmd.Context(), b, "cli")
			if err != nil {
				return err
			}
			if addJSON {
				return printJSON(cmd.OutOrStdout(), ca)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "trusted for persons: %s (SM3 %s)\n", ca.Subject, ca.SM3)
			if ca.CRL == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "no CRL of it is known yet: its persons can neither enrol nor approve until one is added (eseal person ca crl FILE)")
			}
			return nil
		},
	}
	add.Flags().BoolVar(&addJSON, "json", false, "print JSON")
	crl := &cobra.Command{
		Use: "crl CRL", Short: "Add a CRL (DER or PEM) of a trusted persons' CA", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, b, err := fileForRegistry(cmd, g, args[0])
			if err != nil {
				return err
			}
			info, err := reg.AddPersonCRL(cmd.Context(), b, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CRL of %s, number %s, this update %s, %d revoked\n", info.Issuer, info.Number, info.ThisUpdate.Format(time.RFC3339), info.Revoked)
			return nil
		},
	}
	var listJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List the trusted persons' CAs and the newest CRL of each", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			cas, err := reg.PersonCAs(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				return printJSON(cmd.OutOrStdout(), cas)
			}
			if len(cas) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no CA for persons is trusted: persons' certificates are pinned whoever issued them")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBJECT\tNOT AFTER\tCRL NUMBER\tNEXT UPDATE\tSM3")
			for _, ca := range cas {
				number, next := "none", "-"
				if ca.CRL != nil {
					number, next = ca.CRL.Number, ca.CRL.NextUpdate.Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ca.Subject, ca.NotAfter.Format(time.DateTime), number, next, ca.SM3)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	fetch := &cobra.Command{
		Use: "fetch", Short: "Fetch each trusted persons' CA's CRL now, from where its persons' certificates say", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			if os.Getenv("ESEAL_PERSON_CRL_FETCH") == "off" {
				return errors.New("fetching is off (ESEAL_PERSON_CRL_FETCH=off): add CRLs with eseal person ca crl FILE")
			}
			n, failed, err := reg.RefreshPersonCRLs(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CRLs fetched for %d CA(s)\n", n)
			for _, f := range failed {
				fmt.Fprintln(cmd.ErrOrStderr(), f)
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d CA(s) without a fetched CRL", len(failed))
			}
			return nil
		},
	}
	cmd.AddCommand(add, crl, list, fetch)
	return cmd
}

// approveOptions are eseal approve's flags.
type approveOptions struct {
	url, request, person, keyFile, refuse string
	asJSON                                bool
}

func newApproveCmd() *cobra.Command {
	var o approveOptions
	cmd := &cobra.Command{
		Use:   "approve --url URL --request ID --person ID --key PERSON.key [--refuse REASON]",
		Short: "Approve (or refuse) an authorization request with your SM2 key, from your desk",
		Long: `Fetch an authorization request from the eseal server at URL, show what it
asks, sign its grant bytes with your SM2 private key (PEM, as openssl genpkey
-algorithm SM2 writes it; SM2 with SM3, user id 1234567812345678) and send
the signature. No API key is needed: your signature is the credential.

With --refuse REASON, sign and send a refusal instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return approve(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&o.url, "url", "", "the eseal server's base URL, e.g. http://127.0.0.1:8080 (required)")
	cmd.Flags().StringVar(&o.request, "request", "", "the authorization request id, ar-… (required)")
	cmd.Flags().StringVar(&o.person, "person", "", "your person id, p-… (required)")
	cmd.Flags().StringVar(&o.keyFile, "key", "", "your SM2 private key, PEM (required)")
	cmd.Flags().StringVar(&o.refuse, "refuse", "", "refuse the request, giving this reason")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the server's answer as JSON")
	for _, f := range []string{"url", "request", "person", "key"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

func approve(ctx context.Context, o approveOptions, stdout, stderr io.Writer) error {
	if !seal.ValidRequestID(o.request) {
		return fmt.Errorf("--request %q: not an authorization request id (ar-…)", o.request)
	}
	pemBytes, err := os.ReadFile(o.keyFile)
	if err != nil {
		return err
	}
	key, err := keys.ParsePrivateKeyPEM(pemBytes)
	if err != nil {
		return fmt.Errorf("%s: %w", o.keyFile, err)
	}
	base := strings.TrimSuffix(o.url, "/") + "/v1/authorization-requests/" + url.PathEscape(o.request)
	var view struct {
		Status    string `json:"status"`
		Challenge []byte `json:"challenge"`
	}
	if err := callJSON(ctx, "GET", base+"/challenge", nil, http.StatusOK, &view); err != nil {
		return err
	}
	// Sign only what was asked for: the grant bytes of this request, in
	// their one canonical form.
	g, err := seal.ParseGrant(view.Challenge)
	if err != nil {
		return fmt.Errorf("the server's challenge: %w", err)
	}
	if g.RequestID != o.request {
		return fmt.Errorf("the server's challenge is for request %s, not %s", g.RequestID, o.request)
	}
	fmt.Fprintf(stderr, "Request %s (%s): seal %s (%s), case %s, %q, up to %d use(s), expires %s, asked by %s\n",
		g.RequestID, view.Status, g.SealName, g.SealID, g.CaseNo, g.Title, g.MaxUses, g.ExpiresAt.Format(time.RFC3339), g.RequestedBy)
	msg, path, want := view.Challenge, "/approve", http.StatusCreated
	if o.refuse != "" {
		msg, path, want = seal.RefusalBytes(view.Challenge, strings.TrimSpace(o.refuse)), "/refuse", http.StatusOK
	}
	sig, err := keys.SignSM2(key, msg)
	if err != nil {
		return err
	}
	body := map[string]string{"person_id": o.person, "signature": base64.StdEncoding.EncodeToString(sig)}
	if o.refuse != "" {
		body["reason"] = strings.TrimSpace(o.refuse)
	}
	var answer map[string]any
	if err := callJSON(ctx, "POST", base+path, body, want, &answer); err != nil {
		return err
	}
	if o.asJSON {
		return printJSON(stdout, answer)
	}
	if o.refuse != "" {
		fmt.Fprintf(stdout, "refused %s\n", o.request)
		return nil
	}
	fmt.Fprintf(stdout, "%s\n", answer["authorization_id"])
	return nil
}

// callJSON sends a JSON request without an API key and decodes the answer;
// any other status than want is an error carrying the problem's detail.
func callJSON(ctx context.Context, method, u string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		var p struct{ Type, Detail string }
		if json.Unmarshal(b, &p) == nil && p.Type != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, u, resp.StatusCode, p.Type, p.Detail)
		}
		return fmt.Errorf("%s %s: %d %s", method, u, resp.StatusCode, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, out)
}

// addPasskeyPerson enrols a person for a passkey and prints their one-time
// enrolment URL.
func addPasskeyPerson(cmd *cobra.Command, g *globals, spec seal.PersonSpec, publicURL string, asJSON bool) error {
	publicURL, err := passkeyPublicURL(publicURL)
	if err != nil {
		return err
	}
	reg, _, err := g.openRegistry(cmd.Context())
	if err != nil {
		return err
	}
	spec.By = "cli"
	p, token, err := reg.EnrolPasskeyPerson(cmd.Context(), spec, 0)
	if err != nil {
		return err
	}
	enrolURL := publicURL + "/enrol/" + token
	if asJSON {
		return printJSON(cmd.OutOrStdout(), map[string]string{"id": p.ID, "seal_id": p.SealID, "name": p.Name, "state": p.State,
			"enrolment_url": enrolURL, "expires_at": p.EnrolmentExpires.Format(time.RFC3339)})
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s  %s, responsible for %s: enrolling until they register a passkey at\n  %s\n(once, before %s)\n",
		p.ID, p.Name, p.SealID, enrolURL, p.EnrolmentExpires.Format(time.RFC3339))
	return nil
}

// passkeyPublicURL is the public URL passkeys are registered for: the one
// given, else serve's (ESEAL_PUBLIC_URL, else its address).
func passkeyPublicURL(publicURL string) (string, error) {
	if publicURL == "" {
		cfg := defaultServeConfig()
		if err := applyEnv(&cfg, os.Getenv); err != nil {
			return "", err
		}
		publicURL = cfg.PublicURL
		if publicURL == "" {
			publicURL = "http://" + cfg.Addr
		}
	}
	publicURL = strings.TrimSuffix(publicURL, "/")
	if _, err := seal.NewRelyingParty(publicURL); err != nil {
		return "", err
	}
	return publicURL, nil
}

// newPersonPasskeyCmd is eseal person passkey …: a passkey person's further
// passkeys.
func newPersonPasskeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "passkey", Short: "Invite a passkey person to register one more passkey, list their passkeys, remove a lost one"}
	var publicURL string
	var asJSON bool
	add := &cobra.Command{
		Use: "add PERSON", Short: "Print a one-time link (24 h) at which the person registers one more passkey", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := passkeyPublicURL(publicURL)
			if err != nil {
				return err
			}
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			p, token, exp, err := reg.InvitePasskey(cmd.Context(), args[0], "cli", 0)
			if err != nil {
				return err
			}
			link := u + "/enrol/" + token
			if asJSON {
				return printJSON(cmd.OutOrStdout(), map[string]string{"person_id": p.ID, "enrolment_url": link, "expires_at": exp.Format(time.RFC3339)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) registers one more passkey at\n  %s\n(once, before %s)\n", p.ID, p.Name, link, exp.Format(time.RFC3339))
			return nil
		},
	}
	add.Flags().StringVar(&publicURL, "public-url", "", "the service's public URL (default: ESEAL_PUBLIC_URL, else serve's address)")
	add.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	list := &cobra.Command{
		Use: "list PERSON", Short: "List the person's passkeys, removed ones included", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, _, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			pks, err := reg.PersonPasskeys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), pks)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CREDENTIAL ID\tREGISTERED\tREMOVED")
			for _, pk := range pks {
				removed := "-"
				if pk.Removed != nil {
					removed = pk.Removed.Time.Format(time.RFC3339) + " " + pk.Removed.Reason
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", pk.CredentialID, pk.Registered.Format(time.RFC3339), removed)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	var reason string
	remove := &cobra.Command{
		Use: "remove PERSON CREDENTIAL-ID", Short: "Remove one passkey for good (a lost phone); what it approved stays valid", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			pk, err := reg.RemovePasskey(cmd.Context(), args[0], args[1], reason, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "passkey %s of %s removed at %s\n", pk.CredentialID, args[0], pk.Removed.Time.Format(time.RFC3339))
			return nil
		},
	}
	remove.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")
	cmd.AddCommand(add, list, remove)
	return cmd
}

// fileForRegistry reads a file given on the command line, then opens the
// registry it is for: a missing file is reported before the store is opened.
func fileForRegistry(cmd *cobra.Command, g *globals, path string) (*seal.Registry, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	reg, _, err := g.openRegistry(cmd.Context())
	return reg, b, err
}
