package localcluster

import (
	"fmt"
	"slices"

	"github.com/google/nftables"
)

// nftTable names an nftables table. Debian's iptables is iptables-nft: the first rule in a table
// creates the table (filter, nat, mangle, raw) in the kernel, and no iptables command removes it
// again. So Down deletes, through netlink, the tables that did not exist before Up and that are
// empty once the cluster's rules are gone; the host's `iptables-save` is then what it was.
type nftTable struct {
	Family byte   `json:"family"`
	Name   string `json:"name"`
}

func listNFTables() ([]nftTable, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("listing nftables tables: %w", err)
	}
	out := make([]nftTable, 0, len(tables))
	for _, t := range tables {
		out = append(out, nftTable{Family: byte(t.Family), Name: t.Name})
	}
	return out, nil
}

// deleteNewEmptyTables deletes the tables that are not in before and hold no rule and no set.
func deleteNewEmptyTables(before []nftTable) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tables, err := c.ListTables()
	if err != nil {
		return fmt.Errorf("listing nftables tables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return fmt.Errorf("listing nftables chains: %w", err)
	}
	deleted := 0
	for _, t := range tables {
		if slices.Contains(before, nftTable{Family: byte(t.Family), Name: t.Name}) {
			continue
		}
		empty := true
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			rules, err := c.GetRules(t, ch)
			if err != nil || len(rules) > 0 {
				empty = false
				break
			}
		}
		if sets, err := c.GetSets(t); err != nil || len(sets) > 0 {
			empty = false
		}
		if empty {
			c.DelTable(t)
			deleted++
		}
	}
	if deleted == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("deleting empty nftables tables: %w", err)
	}
	return nil
}
