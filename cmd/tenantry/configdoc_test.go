package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/tenantry/tenantry/internal/exitcode"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

// model is the parsed command tree, as the binary builds it.
func model(t *testing.T) *kong.Application {
	t.Helper()
	var cli CLI
	p, err := kong.New(&cli, kong.Name("tenantry"), kong.Vars{"version": version}, kong.Exit(func(int) {}))
	if err != nil {
		t.Fatal(err)
	}
	return p.Model
}

// commands returns every runnable command (leaf) with its path, in tree order.
func commands(n *kong.Node) []*kong.Node {
	var out []*kong.Node
	for _, c := range n.Children {
		if c.Hidden {
			continue
		}
		if len(c.Children) == 0 {
			out = append(out, c)
		}
		out = append(out, commands(c)...)
	}
	return out
}

func md(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// flagRows renders one row per visible flag of n (not the inherited ones).
func flagRows(n *kong.Node) []string {
	var rows []string
	for _, f := range n.Flags {
		if f.Hidden || f.Name == "help" {
			continue
		}
		var envs []string
		for _, e := range f.Envs {
			if _, old := deprecatedEnv[e]; !old {
				envs = append(envs, "`"+e+"`")
			}
		}
		def := ""
		if f.Default != "" {
			def = "`" + f.Default + "`"
		}
		if f.Required {
			def = "required"
		}
		name := "`--" + f.Name + "`"
		if f.Short != 0 {
			name += ", `-" + string(f.Short) + "`"
		}
		rows = append(rows, fmt.Sprintf("| %s | %s | %s | %s |", name, strings.Join(envs, ", "), def, md(f.Help)))
	}
	return rows
}

// configTable renders docs/configuration.md's generated part: every
// command's flags and environment variables, the exit codes, and the
// deprecated spellings that still work.
func configTable(app *kong.Application) string {
	var b strings.Builder
	header := "| flag | environment | default | meaning |\n|---|---|---|---|\n"
	fmt.Fprintf(&b, "### global (every command)\n\n%s%s\n\n", header, strings.Join(flagRows(app.Node), "\n"))
	for _, c := range commands(app.Node) {
		rows := flagRows(c)
		if len(rows) == 0 {
			fmt.Fprintf(&b, "### %s\n\nNo flags of its own.\n\n", c.FullPath())
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n%s%s\n\n", c.FullPath(), header, strings.Join(rows, "\n"))
	}
	b.WriteString("### exit codes\n\n| code | name | meaning |\n|---|---|---|\n")
	for _, r := range exitcode.Table {
		fmt.Fprintf(&b, "| %d | %s | %s |\n", r.Code, r.Name, md(r.Meaning))
	}
	b.WriteString("\n### deprecated spellings (still accepted, with a warning on stderr)\n\n| old | use | in |\n|---|---|---|\n")
	type use struct {
		repl  string
		where []string
	}
	old := map[string]*use{"`--json`": {repl: "`--output json`", where: []string{"every command with --output"}}}
	for _, c := range commands(app.Node) {
		for _, f := range c.Flags {
			for _, a := range f.Aliases {
				k := "`--" + a + "`"
				if old[k] == nil {
					old[k] = &use{repl: "`--" + f.Name + "`"}
				}
				old[k].where = append(old[k].where, strings.TrimPrefix(c.FullPath(), "tenantry "))
			}
		}
	}
	for e, repl := range deprecatedEnv {
		old["`"+e+"`"] = &use{repl: "`" + repl + "`", where: []string{"the environment"}}
	}
	keys := make([]string, 0, len(old))
	for k := range old {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", k, old[k].repl, strings.Join(old[k].where, ", "))
	}
	b.WriteString("\n")
	return b.String()
}

const (
	beginMarker = "<!-- BEGIN GENERATED: go test ./cmd/tenantry -run TestConfigurationDoc -update -->\n"
	endMarker   = "<!-- END GENERATED -->"
)

func TestConfigurationDocIsCurrent(t *testing.T) {
	path := "../../docs/configuration.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, beginMarker), strings.Index(s, endMarker)
	if i < 0 || j < i {
		t.Fatal("docs/configuration.md lacks the generated-section markers")
	}
	want := s[:i+len(beginMarker)] + configTable(model(t)) + s[j:]
	if want == s {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("docs/configuration.md is out of date: run go test ./cmd/tenantry -run TestConfigurationDoc -update")
}

// sameConceptEnvs are flags whose environment variable differs by command
// on purpose, with the reason.
var sameConceptEnvs = map[string]string{
	"envelope-issuer": "a signer writes one iss (TENANTRY_ENVELOPE_ISSUER); a verifier trusts a list (TENANTRY_ENVELOPE_ISSUERS)",
	// Different servers with their own settings; a rename to --console-* is pending.
	"oidc-issuer": "the console's operators' identity provider (TENANTRY_CONSOLE_OIDC_ISSUER) is not the search API's end users' (TENANTRY_OIDC_ISSUER)",
	"listen":      "the console (TENANTRY_CONSOLE_LISTEN) and the search API (TENANTRY_API_LISTEN) are different servers",
}

// osEnv are variables of the operating system, not tenantry settings: any
// flag may fall back to them.
var osEnv = map[string]bool{"USER": true}

// reusedAliases are old names that now mean something else in other
// commands, with the reason they stay accepted where they were.
var reusedAliases = map[string]string{
	"bucket":    "worker, lambda and dlq called their served-bucket list --bucket; it is --buckets now, --bucket is the upload bucket",
	"queue-url": "sfn replay called the Express failure queue --queue-url; it is --failure-queue-url now, --queue-url is the worker's queue",
	"ttl":       "signing commands called the envelope lifetime --ttl; it is --envelope-ttl now, support grant's --ttl is the grant's lifetime",
}

// TestOneNamePerConcept: across every subcommand, an environment variable
// feeds one flag name, a flag name reads one environment variable, a flag
// has one help text per name, and every old name points at one new name.
func TestOneNamePerConcept(t *testing.T) {
	t.Parallel()
	app := model(t)
	envToFlag, flagToEnv, aliasTo := map[string][]string{}, map[string][]string{}, map[string][]string{}
	names := map[string]bool{}
	add := func(m map[string][]string, k, v string) {
		if !slices.Contains(m[k], v) {
			m[k] = append(m[k], v)
		}
	}
	for _, c := range append(commands(app.Node), app.Node) {
		for _, f := range c.Flags {
			names[f.Name] = true
			if len(f.Envs) > 0 {
				add(flagToEnv, f.Name, f.Envs[0])
			}
			for _, e := range f.Envs {
				add(envToFlag, e, f.Name)
			}
			for _, a := range f.Aliases {
				add(aliasTo, a, f.Name)
			}
		}
	}
	for e, flags := range envToFlag {
		if len(flags) > 1 && !osEnv[e] {
			t.Errorf("%s feeds several flags: %v", e, flags)
		}
	}
	for f, envs := range flagToEnv {
		if len(envs) > 1 && sameConceptEnvs[f] == "" {
			t.Errorf("--%s reads different variables in different commands: %v", f, envs)
		}
	}
	for a, to := range aliasTo {
		if len(to) > 1 {
			t.Errorf("old name --%s points at several new names: %v", a, to)
		}
		if names[a] && reusedAliases[a] == "" {
			t.Errorf("old name --%s is also a current flag name elsewhere", a)
		}
	}
	// The names the issue found inconsistent are gone from every help page.
	for _, old := range []string{"issuer", "dims", "k", "min-age", "max-age", "json", "owner-url", "max-conns", "queue-url@sfn replay"} {
		name, where, _ := strings.Cut(old, "@")
		for _, c := range commands(app.Node) {
			if where != "" && c.FullPath() != "tenantry "+where {
				continue
			}
			for _, f := range c.Flags {
				if f.Name == name && !f.Hidden {
					t.Errorf("%s still shows --%s", c.FullPath(), name)
				}
			}
		}
	}
}

// TestSubcommandsListOnlyFlagsTheyUse: a command lists the endpoint of an
// AWS service only if it calls that service.
func TestSubcommandsListOnlyFlagsTheyUse(t *testing.T) {
	t.Parallel()
	uses := map[string][]string{
		"tenantry envelope sign":      {"kms"},
		"tenantry envelope verify":    {"kms"},
		"tenantry envelope jwks":      {"kms"},
		"tenantry envelope keygen":    {},
		"tenantry presign":            {"s3", "kms"},
		"tenantry upload":             {"s3", "kms"},
		"tenantry dlq redrive start":  {"sqs"},
		"tenantry dlq redrive list":   {"sqs"},
		"tenantry dlq redrive cancel": {"sqs"},
		"tenantry dlq inspect":        {"s3", "sqs", "kms"},
		"tenantry dlq replay":         {"s3", "sqs", "kms"},
		"tenantry sfn start":          {"sfn", "s3", "kms"},
		"tenantry sfn redrive":        {"sfn"},
		"tenantry sfn replay":         {"sfn", "s3", "sqs", "kms"},
		"tenantry search":             {"kms"},
		"tenantry api":                {"kms"},
		"tenantry migrate":            {},
		"tenantry audit verify":       {"s3", "kms"},
		"tenantry audit export":       {"s3", "kms"},
		"tenantry worker":             {"s3", "sqs", "sfn", "kms"},
		"tenantry lambda":             {"s3", "sqs", "sfn", "kms"},
		"tenantry demo":               {"s3", "sqs"},
		"tenantry version":            {},
		"tenantry health":             {},
		"tenantry pdfium compile":     {},
		// Issues 16 and 18: database-only commands; anchors live in S3, signed with KMS.
		"tenantry audit anchor":   {"s3", "kms"},
		"tenantry support grant":  {},
		"tenantry support revoke": {},
		"tenantry support list":   {},
		"tenantry support read":   {},
		"tenantry tenant pause":   {},
		"tenantry tenant resume":  {},
		"tenantry tenant status":  {},
		"tenantry tenant limits":  {},
		"tenantry console":        {"s3", "sqs", "sfn", "kms"},
	}
	for _, c := range commands(model(t).Node) {
		want, ok := uses[c.FullPath()]
		if !ok {
			t.Errorf("%s: say which AWS services it calls in this test", c.FullPath())
			continue
		}
		var got []string
		for _, f := range c.Flags {
			if svc, ok := strings.CutSuffix(f.Name, "-endpoint"); ok {
				got = append(got, svc)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s lists endpoints %v, calls %v", c.FullPath(), got, want)
		}
	}
}
