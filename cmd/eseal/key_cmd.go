package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"eseal/api"
)

// createdKeyJSON is what `eseal key create --json` prints.
type createdKeyJSON struct {
	ID    string   `json:"id"`
	Key   string   `json:"key"`
	Role  api.Role `json:"role"`
	Seals []string `json:"seals"`
	Name  string   `json:"name"`
	Unit  string   `json:"unit,omitempty"`
}

func newKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create, list and revoke API keys (one role each; stamper and authorizer keys name their seals)"}

	var spec api.KeySpec
	var role string
	var createJSON bool
	create := &cobra.Command{
		Use:   "create --role ROLE [--seal ID]... --name NAME",
		Short: "Create an API key and print it once",
		Long: `Create an API key with exactly one role:

  admin       manages seals and API keys; it neither grants nor stamps
  authorizer  grants and revokes authorizations for its seals (--seal, at least one)
  stamper     stamps with its seals and reads the documents stamped with them (--seal, at least one)
  archivist   reads every record of its unit, sets legal holds, makes transfers
  platform    creates units and their keys (no --unit); manages no seal itself

Every key but a platform key belongs to one unit (--unit; default: the
first unit) and reaches nothing of another unit's. --cross-unit lets a
stamper key name seals of other units, for an approval system that stamps
joint approvals (联合审批).

The key is printed once; eseal keeps only its hash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, store, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			spec.Role, spec.By = api.Role(role), "cli"
			k, secret, err := api.Keyring{Store: store, Registry: reg}.Create(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if createJSON {
				return printJSON(cmd.OutOrStdout(), createdKeyJSON{k.ID, secret, k.Role, k.Seals, k.Name, k.Unit})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s  %s key %q%s\n", k.ID, k.Role, k.Name, sealsNote(k.Seals))
			fmt.Fprintf(w, "Key (shown only this once): %s\n", secret)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin, authorizer, stamper, archivist or platform (required)")
	create.Flags().StringVar(&spec.Unit, "unit", "", "the key's unit, u-… (default: the first unit)")
	create.Flags().BoolVar(&spec.CrossUnit, "cross-unit", false, "a stamper key whose seals may belong to other units (joint approvals)")
	create.Flags().StringArrayVar(&spec.Seals, "seal", nil, "a seal the key may use (stamper and authorizer keys; repeat for several)")
	create.Flags().StringVar(&spec.Name, "name", "", "who holds the key, e.g. the approval system's name (required)")
	create.Flags().BoolVar(&createJSON, "json", false, `print {"id", "key", "role", "seals", "name"}`)
	_ = create.MarkFlagRequired("role")
	_ = create.MarkFlagRequired("name")

	var listJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List the API keys, revoked ones included", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, store, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			keys, err := api.Keyring{Store: store, Registry: reg}.List(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				return printJSON(cmd.OutOrStdout(), keys)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tSEALS\tNAME\tCREATED\tREVOKED")
			for _, k := range keys {
				role, revoked := string(k.Role), "-"
				if role == "" {
					role = fmt.Sprintf("none (old roles %v)", k.LegacyRoles)
				}
				if k.Revoked != nil {
					revoked = k.Revoked.Time.Format(time.DateTime)
				}
				seals := strings.Join(k.Seals, ",")
				if seals == "" {
					seals = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, role, seals, k.Name, k.Created.Format(time.DateTime), revoked)
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	var reason string
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API key for good", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, store, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			k, err := api.Keyring{Store: store, Registry: reg}.Revoke(cmd.Context(), args[0], reason, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s key %q) revoked at %s\n", k.ID, k.Role, k.Name, k.Revoked.Time.Format(time.RFC3339))
			return nil
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "", "why (kept in the audit log)")

	cmd.AddCommand(create, list, revoke)
	return cmd
}

func sealsNote(seals []string) string {
	if len(seals) == 0 {
		return ""
	}
	return " for " + strings.Join(seals, ", ")
}
