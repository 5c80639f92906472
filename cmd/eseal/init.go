package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"eseal/api"
	"eseal/keys"
	"eseal/seal"
)

// initResult is what `eseal init --json` prints; scripts rely on seal_id and admin_key.
type initResult struct {
	Dir           string `json:"dir"`
	Org           string `json:"org"`
	SealID        string `json:"seal_id"`
	SealName      string `json:"seal_name"`
	AdminKey      string `json:"admin_key"`
	MasterKeyFile string `json:"master_key_file,omitempty"`
}

func newInitCmd(g *globals) *cobra.Command {
	var org string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data directory: organisation CA, seal maker, a demo seal and an admin API key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := initDataDir(cmd, g, org)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "Initialised %s for %s.\n", res.Dir, res.Org)
			fmt.Fprintf(w, "Demo seal:  %s (%s)\n", res.SealID, res.SealName)
			fmt.Fprintf(w, "Admin key:  %s\n", res.AdminKey)
			fmt.Fprintln(w, "The admin key is shown only this once; keep it.")
			return nil
		},
	}
	cmd.Flags().StringVar(&org, "org", "浙江省某市行政审批服务局", "organisation name (the subject of the CA and the seals)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// initDataDir is `eseal init`; `eseal serve` runs it too on an empty data dir.
func initDataDir(cmd *cobra.Command, g *globals, org string) (*initResult, error) {
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
	reg, err := seal.InitOrg(ctx, store, kek, org, seal.Options{})
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
	res.AdminKey, err = api.CreateAPIKey(ctx, store, "admin (eseal init)", []api.Role{api.RoleAdmin}, nil, time.Now())
	if err != nil {
		return nil, errors.Join(errors.New("creating the admin key"), err)
	}
	return res, nil
}
