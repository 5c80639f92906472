package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"eseal/seal"
)

func newSealCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "seal", Short: "Create, list and change the state of seals"}
	var asJSON bool
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON")

	list := &cobra.Command{
		Use: "list", Short: "List the seals", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			seals, err := reg.List(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), seals)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tVALID UNTIL")
			for _, s := range seals {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Status, s.ValidEnd.Format("2006-01-02"))
			}
			return tw.Flush()
		},
	}

	var spec seal.CreateSpec
	var picture string
	var sealType int
	var policy string
	create := &cobra.Command{
		Use: "create", Short: "Create a seal: signer key and certificate, GB/T 38540 seal object", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			if picture != "" {
				if spec.Picture, err = os.ReadFile(picture); err != nil {
					return err
				}
			}
			spec.Type = seal.Type(sealType)
			spec.By = "cli"
			if spec.Policy, err = seal.ParsePolicy(policy); err != nil {
				return err
			}
			s, err := reg.CreateSeal(cmd.Context(), spec)
			if err != nil {
				return err
			}
			return showSeal(cmd, s, asJSON)
		},
	}
	create.Flags().StringVar(&spec.Name, "name", "", "seal name, as engraved (required)")
	create.Flags().StringVar(&spec.Unit, "unit", "", "the unit that owns the seal, u-… (default: the first unit); its name is the O= of the signer certificate")
	create.Flags().IntVar(&sealType, "type", int(seal.TypeOfficial), "seal type: 1 official, 2 personal, 3 finance, 4 contract, 5 approval, 6 invoice")
	create.Flags().StringVar(&picture, "picture", "", "PNG picture with transparency (default: a drawn demo seal)")
	create.Flags().IntVar(&spec.WidthMM, "width-mm", 42, "printed width in millimetres")
	create.Flags().IntVar(&spec.HeightMM, "height-mm", 0, "printed height in millimetres (default: the width)")
	create.Flags().DurationVar(&spec.ValidFor, "valid-for", seal.DefaultValidity, "validity from now")
	create.Flags().StringVar(&policy, "policy", string(seal.PolicyPerson), "which grants stamp: person (a responsible person's approval) or key (also an authorizer key's direct grant)")
	_ = create.MarkFlagRequired("name")

	setPolicy := &cobra.Command{
		Use: "policy ID person|key", Short: "Set which grants stamp with a seal: person (approved by a responsible person) or key (also an authorizer key's)",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := seal.ParsePolicy(args[1])
			if err != nil || args[1] == "" {
				return fmt.Errorf("policy %q: want person or key", args[1])
			}
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			if err := reg.SetPolicy(cmd.Context(), args[0], p, "cli"); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: policy %s\n", args[0], p)
			return nil
		},
	}

	show := &cobra.Command{
		Use: "show ID", Short: "Show one seal", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, _, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			s, err := reg.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return showSeal(cmd, s, asJSON)
		},
	}
	cmd.AddCommand(list, create, show, setPolicy,
		statusCmd(g, &asJSON, "suspend", seal.Suspended, "Suspend a seal (it can be resumed)"),
		statusCmd(g, &asJSON, "resume", seal.Active, "Resume a suspended seal"),
		statusCmd(g, &asJSON, "revoke", seal.Revoked, "Revoke a seal for good and put its signer certificate on the CRL"))
	return cmd
}

func statusCmd(g *globals, asJSON *bool, use string, to seal.Status, short string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			s, err := reg.SetStatus(cmd.Context(), args[0], to, reason, "cli")
			if err != nil {
				return err
			}
			return showSeal(cmd, s, *asJSON)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (kept in the seal's history)")
	return cmd
}

func showSeal(cmd *cobra.Command, s *seal.Seal, asJSON bool) error {
	if asJSON {
		return printJSON(cmd.OutOrStdout(), s)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "id:       %s\nname:     %s\ntype:     %d\nsize:     %d×%d mm\nvalid:    %s – %s\nstatus:   %s (%s, %s)\nsigner:   serial %s\n",
		s.ID, s.Name, s.Type, s.WidthMM, s.HeightMM,
		s.ValidStart.Format(time.DateOnly), s.ValidEnd.Format(time.DateOnly),
		s.Status, s.StatusReason, s.StatusTime.Format(time.RFC3339), s.SignerSerial)
	return nil
}
