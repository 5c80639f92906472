package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"eseal/api"
	"eseal/keys"
	"eseal/seal"
)

// initResult is what `eseal init --json` prints; scripts rely on seal_id and
// the three keys. The admin key manages seals, persons and keys; the stamper
// key asks for authorizations and stamps with the demo seal; the authorizer
// key shows and revokes its authorizations. In demo mode a demo responsible
// person is enrolled for the demo seal, their SM2 key in PersonKey.
type initResult struct {
	Dir           string `json:"dir"`
	Org           string `json:"org"`
	SealID        string `json:"seal_id"`
	SealName      string `json:"seal_name"`
	AdminKey      string `json:"admin_key"`
	AuthorizerKey string `json:"authorizer_key"`
	StamperKey    string `json:"stamper_key"`
	ArchivistKey  string `json:"archivist_key"`
	PersonID      string `json:"person_id,omitempty"`
	PersonKey     string `json:"person_key,omitempty"`
	MasterKeyFile string `json:"master_key_file,omitempty"`
}

// printKeys says what each of init's keys is for.
func (res *initResult) printKeys(w io.Writer) {
	fmt.Fprintf(w, "Admin key:       %s  (seals, persons and keys)\n", res.AdminKey)
	fmt.Fprintf(w, "Authorizer key:  %s  (shows and revokes the demo seal's authorizations)\n", res.AuthorizerKey)
	fmt.Fprintf(w, "Stamper key:     %s  (asks for authorizations and stamps with the demo seal)\n", res.StamperKey)
	fmt.Fprintf(w, "Archivist key:   %s  (searches, reads, holds and transfers records; signs in to /console/)\n", res.ArchivistKey)
	fmt.Fprintln(w, "The keys are shown only this once; keep them.")
	if res.PersonID != "" {
		fmt.Fprintf(w, "Demo responsible person: %s, SM2 key %s (eseal approve --person %s --key %s …)\n", res.PersonID, res.PersonKey, res.PersonID, res.PersonKey)
	}
}

func newInitCmd(g *globals) *cobra.Command {
	var org, fonds string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data directory: organisation CA, seal maker, a demo seal and its API keys (admin, authorizer, stamper)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := initDataDir(cmd, g, org, fonds)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Initialised %s for %s.\n", res.Dir, res.Org)
			fmt.Fprintf(w, "Demo seal:  %s (%s)\n", res.SealID, res.SealName)
			res.printKeys(w)
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "浙江省某市行政审批服务局", "organisation name (the subject of the CA and the seals)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().StringVar(&fonds, "fonds", "", "fonds code (全宗号) of the organisation's records, 1–16 letters and digits (else set for transfers with --fonds or ESEAL_FONDS)")
	return cmd
}

// initDataDir is `eseal init`; `eseal serve` runs it too on an empty data dir.
func initDataDir(cmd *cobra.Command, g *globals, org, fonds string) (*initResult, error) {
	ctx := cmd.Context()
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return nil, err
	}
	store, err := g.openStore(ctx, true)
	if err != nil {
		return nil, err
	}
	if ok, err := initialised(ctx, store); err != nil {
		return nil, err
	} else if ok {
		return nil, fmt.Errorf("the store of %s already holds an organisation", g.dir)
	}
	res := &initResult{Dir: g.dir, Org: org}
	kek, err := g.loadKEK()
	if err != nil {
		// Demo mode: make a key-encryption key beside the data and say so.
		k, encoded, kerr := keys.NewKEK()
		if kerr != nil {
			return nil, kerr
		}
		if werr := os.WriteFile(g.demoKeyFile(), []byte(encoded+"\n"), 0o600); werr != nil {
			return nil, werr
		}
		kek = k
		res.MasterKeyFile = g.demoKeyFile()
		fmt.Fprintf(cmd.ErrOrStderr(), "eseal: demo mode: generated the key-encryption key %s; in production set ESEAL_MASTER_KEY instead\n", g.demoKeyFile())
	}
	reg, err := seal.InitOrg(ctx, store, kek, org, seal.Options{Fonds: fonds, PublicURL: g.publicURLOrEnv()})
	if err != nil {
		return nil, err
	}
	if err := g.openAudit(ctx, reg, store); err != nil {
		return nil, err
	}
	s, err := reg.CreateSeal(ctx, seal.CreateSpec{Name: org + "行政审批专用章", Type: seal.TypeApproval, By: "eseal init"})
	if err != nil {
		return nil, err
	}
	res.SealID, res.SealName = s.ID, s.Name
	if err := reg.SealFontError(); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "eseal: the demo seal's picture is a ring and a star without names: %v\n", err)
	}
	if res.MasterKeyFile != "" {
		if res.PersonID, res.PersonKey, err = enrolDemoPerson(ctx, reg, g, s.ID); err != nil {
			return nil, err
		}
	}
	kr := api.Keyring{Store: store, Registry: reg}
	for _, k := range []struct {
		out   *string
		role  api.Role
		seals []string
	}{
		{&res.AdminKey, api.RoleAdmin, nil},
		{&res.AuthorizerKey, api.RoleAuthorizer, []string{s.ID}},
		{&res.StamperKey, api.RoleStamper, []string{s.ID}},
		{&res.ArchivistKey, api.RoleArchivist, nil},
	} {
		spec := api.KeySpec{Name: string(k.role) + " (eseal init)", Role: k.role, Seals: k.seals, By: "eseal init"}
		if _, *k.out, err = kr.Create(ctx, spec); err != nil {
			return nil, fmt.Errorf("creating the %s key: %w", k.role, err)
		}
	}
	return res, nil
}

// enrolDemoPerson makes a demo responsible person for the demo seal: an SM2
// key written to DIR/demo-person.key (0600, PKCS#8 PEM, as openssl writes
// it) and a self-signed certificate, enrolled.
func enrolDemoPerson(ctx context.Context, reg *seal.Registry, g *globals, sealID string) (id, keyFile string, err error) {
	key, err := keys.GenerateKey()
	if err != nil {
		return "", "", err
	}
	now := time.Now()
	cert, err := keys.SelfSignedPersonCertificate("演示负责人", key, now.Add(-time.Minute), now.Add(3*365*24*time.Hour))
	if err != nil {
		return "", "", err
	}
	pemKey, err := keys.MarshalPrivateKeyPEM(key)
	if err != nil {
		return "", "", err
	}
	keyFile = filepath.Join(g.dir, "demo-person.key")
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		return "", "", err
	}
	p, err := reg.EnrolPerson(ctx, seal.PersonSpec{SealID: sealID, Name: "演示负责人", CertPEM: keys.EncodeCertificatesPEM(cert), By: "eseal init"})
	if err != nil {
		return "", "", err
	}
	return p.ID, keyFile, nil
}
