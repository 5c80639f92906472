package main

// eseal unit …: the units (单位) one deployment serves.

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"eseal/seal"
)

func newUnitCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "unit",
		Short: "Create and list the units (单位) this deployment serves",
		Long: `One deployment serves several units — the departments of a city, the
service centres of a district. The platform's CA, seal maker and TSA serve
every unit; each unit owns its seals (their signer certificates name it as
O=), their responsible persons, its API keys, its fonds code and its records,
which are kept under its own prefix (units/<id>/docs/).

The first unit is the organisation 'eseal init' made (a data directory
made before units opens with it as its first unit). After 'unit create',
give the unit an admin key: eseal key create --unit ID --role admin --name NAME.`,
	}
	var spec seal.UnitSpec
	var createJSON bool
	create := &cobra.Command{
		Use: "create --name NAME --code CODE --fonds CODE", Short: "Create a unit", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistry(cmd.Context())
			if err != nil {
				return err
			}
			spec.By = "cli"
			u, err := reg.CreateUnit(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if createJSON {
				return printJSON(cmd.OutOrStdout(), u)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s  %s (code %s, fonds %s)\n", u.ID, u.Name, u.Code, u.Fonds)
			return nil
		},
	}
	create.Flags().StringVar(&spec.Name, "name", "", "the unit's name, the O= of its signer certificates (required)")
	create.Flags().StringVar(&spec.Code, "code", "", "统一社会信用代码 or the platform's own code, unique (required)")
	create.Flags().StringVar(&spec.Fonds, "fonds", "", "fonds code (全宗号) of the unit's records (required)")
	create.Flags().BoolVar(&createJSON, "json", false, `print {"id", "name", "code", "fonds", …}`)
	for _, f := range []string{"name", "code", "fonds"} {
		_ = create.MarkFlagRequired(f)
	}

	var listJSON bool
	list := &cobra.Command{
		Use: "list", Short: "List the units, the first unit first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, _, err := g.openRegistryReadOnly(cmd.Context())
			if err != nil {
				return err
			}
			us, err := reg.Units(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				return printJSON(cmd.OutOrStdout(), us)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCODE\tFONDS\tCREATED")
			for _, u := range us {
				name := u.Name
				if u.First {
					name += " (first)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, name, dash(u.Code), dash(u.Fonds), u.Created.Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")
	schedule := &cobra.Command{
		Use:   "schedule ID SCHEDULE.yaml",
		Short: "Put a retention schedule (保管期限表) in force for a unit",
		Long: `Put a retention schedule in force for the unit's new documents (YAML,
as for the deployment's retention_schedule: items: {"ITEM-CODE": permanent|30y|10y}).
The schedule decides; a request may only lengthen; an unlisted or missing
item code is kept permanently. A unit without one uses the deployment's.
Every replica uses the new version within 30 seconds.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, b, err := fileForRegistry(cmd, g, args[1])
			if err != nil {
				return err
			}
			v, err := reg.SetUnitSchedule(cmd.Context(), args[0], b, "cli")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "retention schedule version %d in force for %s\n", v, args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, schedule)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
